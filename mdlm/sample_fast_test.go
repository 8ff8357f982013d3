package mdlm

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/seqdiff/seqdiff/evaluate"
	"github.com/seqdiff/seqdiff/vocab"
)

// TestFirstHittingMarkovJoint: with one token per call, first_hitting is
// exact: the joint of 3 positions under a Markov chain's exact
// conditionals is the chain's, with one model call per position.
func TestFirstHittingMarkovJoint(t *testing.T) {
	v := vocab.DNA()
	L, B, n := 3, 100, 40
	m := newMarkov(rand.New(rand.NewPCG(12, 12)), L)
	d := &markovDenoiser{m: m, V: v.Size, mask: v.Mask}
	s, err := NewSampler(d, v, SampleConfig{Method: MethodFirstHitting, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	checkMarkovJoint(t, s, m, v, B, n)
	if s.Calls() != n*L {
		t.Errorf("%d calls for %d batches of %d positions: want one per position", s.Calls(), n, L)
	}
}

// TestFirstHittingIndependentPositions: per-position categoricals (the
// temperature applied) with k = 1 and k = 4 per call; k > 1 is exact for
// a model whose positions are independent, and makes ceil(L/k) calls.
func TestFirstHittingIndependentPositions(t *testing.T) {
	v := vocab.DNA()
	L, B := 6, 8
	d := newIndep(rand.New(rand.NewPCG(11, 11)), v, L)
	for _, k := range []int{1, 4} {
		for _, temp := range []float64{1, 0.7} {
			dd := &indepDenoiser{V: d.V, table: d.table}
			counts, s := samplePositions(t, dd, v, SampleConfig{Method: MethodFirstHitting, TokensPerStep: k, Temperature: temp, Seed: 1}, 500, B, L)
			for i := range L {
				if _, _, p, err := evaluate.ChiSquareGOF(counts[i], d.probs(v, i, temp)); err != nil || p < 1e-3 {
					t.Errorf("k %d temp %v position %d: counts %v, p = %v", k, temp, i, counts[i], p)
				}
			}
			if want := 500 * ((L + k - 1) / k); s.Calls() != want || dd.calls != want {
				t.Errorf("k %d: %d calls (model saw %d), want %d", k, s.Calls(), dd.calls, want)
			}
		}
	}
}

// timeRecorder records the time of each row at each call.
type timeRecorder struct {
	Denoiser
	times [][]float32
}

func (r *timeRecorder) Logits(z []int32, B, L int, t []float32, out []float32) error {
	r.times = append(r.times, slices.Clone(t))
	return r.Denoiser.Logits(z, B, L, t, out)
}

func (*timeRecorder) TimeConditioned() bool { return true }

// TestFirstHittingTimes: the model is called at the reveal times. With n
// positions masked at t = 1 under the log-linear schedule, the first
// reveal is the largest of n uniforms, mean n/(n+1); times fall along a
// row.
func TestFirstHittingTimes(t *testing.T) {
	v := vocab.DNA()
	L, B := 8, 200
	r := &timeRecorder{Denoiser: newIndep(rand.New(rand.NewPCG(3, 3)), v, L)}
	s, _ := NewSampler(r, v, SampleConfig{Method: MethodFirstHitting, Seed: 9})
	z, _ := Template(v, L, nil, nil)
	zz := make([]int32, 0, B*L)
	for range B {
		zz = append(zz, z...)
	}
	if err := s.Sample(zz, B, L); err != nil {
		t.Fatal(err)
	}
	if len(r.times) != L {
		t.Fatalf("%d calls, want %d", len(r.times), L)
	}
	var mean float64
	for _, x := range r.times[0] {
		mean += float64(x) / float64(B)
	}
	want, sd := float64(L)/float64(L+1), math.Sqrt(float64(L)/(float64(L+2)*float64(L+1)*float64(L+1))/float64(B))
	if math.Abs(mean-want) > 4*sd {
		t.Errorf("mean first reveal time %.4f, want %.4f (sd %.4f)", mean, want, sd)
	}
	for c := 1; c < L; c++ {
		for b := range B {
			if r.times[c][b] > r.times[c-1][b] {
				t.Fatalf("row %d: time rises from %g to %g at call %d", b, r.times[c-1][b], r.times[c][b], c)
			}
		}
	}
}

// confident gives position i a peak of height i: later positions are more
// confident, so topk_confidence reveals them first.
type confident struct{ calls [][]int32 }

func (c *confident) Logits(z []int32, B, L int, t []float32, out []float32) error {
	c.calls = append(c.calls, slices.Clone(z))
	V := len(out) / (B * L)
	for i := range B * L {
		row := out[i*V : (i+1)*V]
		for j := range row {
			row[j] = 0
		}
		row[7+i%4] = float32(3 * (i % L))
	}
	return nil
}

// TestTopKConfidence: exactly Steps calls, the schedule's count revealed
// per call, the most confident positions first, clamped ones kept.
func TestTopKConfidence(t *testing.T) {
	v := vocab.DNA()
	L, S := 12, 4
	for _, sched := range []string{RevealLinear, RevealCosine} {
		c := &confident{}
		s, err := NewSampler(c, v, SampleConfig{Method: MethodTopKConfidence, Steps: S, RevealSchedule: sched, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		z, _ := Template(v, L, []int32{v.Mask, 8}, nil) // position 1 clamped
		if err := s.Sample(z, 1, L); err != nil {
			t.Fatal(err)
		}
		if s.Calls() != S || len(c.calls) != S {
			t.Fatalf("%s: %d calls, want %d", sched, s.Calls(), S)
		}
		if z[1] != 8 || slices.Contains(z, v.Mask) {
			t.Fatalf("%s: %v", sched, z)
		}
		m := L - 1
		for j, seen := range c.calls {
			masked := 0
			for _, id := range seen {
				if id == v.Mask {
					masked++
				}
			}
			if want := m - revealedAfter(sched, m, j, S); masked != want {
				t.Errorf("%s: call %d sees %d masked, want %d", sched, j+1, masked, want)
			}
			// The masked ones are the least confident: a prefix of the row.
			for i := masked + 1; i < L; i++ {
				if seen[i] == v.Mask && i != 1 {
					t.Errorf("%s call %d: position %d masked while less confident ones are revealed: %v", sched, j+1, i, seen)
				}
			}
		}
	}
	if got := revealedAfter(RevealCosine, 100, 1, 4); got != 8 { // 100 (1 - cos(pi/8))
		t.Errorf("cosine after 1 of 4: %d", got)
	}
	if got := revealedAfter(RevealLinear, 100, 1, 4); got != 25 {
		t.Errorf("linear after 1 of 4: %d", got)
	}
	// With MaskGIT's noise the first call no longer always keeps the most
	// confident positions, and the calls still fill every position.
	moved := 0
	for seed := range uint64(20) {
		c := &confident{}
		s, err := NewSampler(c, v, SampleConfig{Method: MethodTopKConfidence, Steps: S, ConfidenceNoise: 20, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		z, _ := Template(v, L, nil, nil)
		if err := s.Sample(z, 1, L); err != nil || slices.Contains(z, v.Mask) || s.Calls() != S {
			t.Fatalf("noise: %v %v, %d calls", err, z, s.Calls())
		}
		if c.calls[1][0] != v.Mask { // the least confident position revealed first
			moved++
		}
	}
	if moved == 0 {
		t.Error("confidence noise never changed the order")
	}
	if _, err := NewSampler(c0{}, v, SampleConfig{Method: MethodTopKConfidence, Steps: 2, ConfidenceNoise: -1}); err == nil {
		t.Error("negative confidence noise accepted")
	}
	if _, err := NewSampler(c0{}, v, SampleConfig{Method: "maskgit", Steps: 1}); err == nil {
		t.Error("unknown method accepted")
	}
	if _, err := NewSampler(c0{}, v, SampleConfig{Method: MethodTopKConfidence, Steps: 2, RevealSchedule: "exp"}); err == nil {
		t.Error("unknown reveal schedule accepted")
	}
}

type c0 struct{}

func (c0) Logits(z []int32, B, L int, t []float32, out []float32) error { return nil }

// TestFastSamplersClamp: every method keeps clamped positions and fills
// every mask, in rows of different masked counts (a batch).
func TestFastSamplersClamp(t *testing.T) {
	v := vocab.DNA()
	L := 10
	d := newIndep(rand.New(rand.NewPCG(5, 5)), v, L)
	for _, cfg := range []SampleConfig{{Method: MethodFirstHitting}, {Method: MethodFirstHitting, TokensPerStep: 3}, {Method: MethodTopKConfidence, Steps: 3}} {
		s, err := NewSampler(d, v, cfg)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := Template(v, L, []int32{7, 8, 9}, []int32{10})
		b, _ := Template(v, L, nil, nil)
		b[5] = v.Pad
		z := append(a, b...)
		if err := s.Sample(z, 2, L); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(z[:3], []int32{7, 8, 9}) || z[L-1] != 10 || z[L+5] != v.Pad || slices.Contains(z, v.Mask) {
			t.Errorf("%+v: %v", cfg, z)
		}
	}
}

// positional wraps a Denoiser with LogitsAt and LogProbsAt computed from
// its full logits, counting their use: the samplers and the evaluator must
// give the same results through them as through Logits.
type positional struct {
	Denoiser
	V         int
	mask      int32
	at, probs int
	full      []float32
}

func (p *positional) LogitsAt(z []int32, B, L int, t []float32, pos []int32, out []float32) error {
	p.at++
	p.full = grow(p.full, B*L*p.V)
	if err := p.Logits(z, B, L, t, p.full); err != nil {
		return err
	}
	for j, i := range pos {
		copy(out[j*p.V:(j+1)*p.V], p.full[int(i)*p.V:])
	}
	return nil
}

func (p *positional) LogProbsAt(z []int32, B, L int, t []float32, pos, targets []int32, out []float64) error {
	p.probs++
	p.full = grow(p.full, B*L*p.V)
	if err := p.Logits(z, B, L, t, p.full); err != nil {
		return err
	}
	for j, i := range pos {
		out[j] = logProbOf(p.full[int(i)*p.V:(int(i)+1)*p.V], int(targets[j]), p.mask)
	}
	return nil
}

// TestPositionalDenoiser: with a denoiser that returns chosen positions
// only, every sampler draws the same samples for a seed as with full
// logits, and the NELBO is the same.
func TestPositionalDenoiser(t *testing.T) {
	v := vocab.DNA()
	L, B := 7, 3
	m := newMarkov(rand.New(rand.NewPCG(21, 21)), L)
	plain := &markovDenoiser{m: m, V: v.Size, mask: v.Mask}
	for _, cfg := range []SampleConfig{{Steps: 5, Seed: 1}, {Steps: 5, Cache: true, Seed: 1}, {Method: MethodFirstHitting, TokensPerStep: 2, Seed: 2},
		{Method: MethodTopKConfidence, Steps: 3, Seed: 3}} {
		var rows [2][]int32
		pd := &positional{Denoiser: plain, V: v.Size, mask: v.Mask}
		for k, d := range []Denoiser{plain, pd} {
			s, err := NewSampler(d, v, cfg)
			if err != nil {
				t.Fatal(err)
			}
			z := make([]int32, B*L)
			for i := range z {
				z[i] = v.Mask
			}
			if err := s.Sample(z, B, L); err != nil {
				t.Fatal(err)
			}
			rows[k] = z
		}
		if !slices.Equal(rows[0], rows[1]) {
			t.Errorf("%+v: %v with full logits, %v through LogitsAt", cfg, rows[0], rows[1])
		}
		if used := pd.at > 0; used == cfg.Cache {
			t.Errorf("%+v: LogitsAt used %d times (the cache needs whole rows)", cfg, pd.at)
		}
	}
	x := make([]int32, B*L)
	for b := range B {
		copy(x[b*L:], m.sample(rand.New(rand.NewPCG(uint64(b), 9)), L))
	}
	var nll [2]float64
	pd := &positional{Denoiser: plain, V: v.Size, mask: v.Mask}
	for k, d := range []Denoiser{plain, pd} {
		ev, _ := NewEvaluator(d, v, NELBOConfig{K: 3, Seed: 4})
		if err := ev.Add(x, B, L); err != nil {
			t.Fatal(err)
		}
		nll[k] = ev.Sum
	}
	if nll[0] != nll[1] || pd.probs == 0 {
		t.Errorf("NELBO %v with full logits, %v through LogProbsAt (%d calls)", nll[0], nll[1], pd.probs)
	}
}
