package mdlm

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/seqdiff/seqdiff/evaluate"
	"github.com/seqdiff/seqdiff/vocab"
)

// samplePositions runs n batches of B unconditional rows and counts, per
// position, how often each samplable id came out.
func samplePositions(t *testing.T, d Denoiser, v vocab.Vocab, cfg SampleConfig, n, B, L int) ([][]int, *Sampler) {
	t.Helper()
	s, err := NewSampler(d, v, cfg)
	if err != nil {
		t.Fatal(err)
	}
	counts := make([][]int, L)
	for i := range counts {
		counts[i] = make([]int, len(v.Samplable))
	}
	z := make([]int32, B*L)
	for it := 0; it < n; it++ {
		for i := range z {
			z[i] = v.Mask
		}
		if err := s.Sample(z, B, L); err != nil {
			t.Fatal(err)
		}
		for i, id := range z {
			j := slices.Index(v.Samplable, id)
			if j < 0 {
				t.Fatalf("sampled id %d outside the samplable set", id)
			}
			counts[i%L][j]++
		}
	}
	return counts, s
}

// TestDDPMIndependentPositions: with a model whose conditionals are fixed
// per-position categoricals, every position's samples follow its own
// distribution (temperature applied), with and without the cache; the
// cache reproduces ddpm exactly for the same seed and calls the model less.
func TestDDPMIndependentPositions(t *testing.T) {
	v := vocab.DNA()
	L, B := 6, 8
	d := newIndep(rand.New(rand.NewPCG(11, 11)), v, L)
	for _, temp := range []float64{1, 0.7} {
		var results [2][][]int
		var calls [2]int
		for c, cache := range []bool{false, true} {
			dd := &indepDenoiser{V: d.V, table: d.table}
			counts, s := samplePositions(t, dd, v, SampleConfig{Steps: 50, Temperature: temp, Cache: cache, Seed: 1}, 500, B, L)
			results[c], calls[c] = counts, s.Calls()
			if s.Calls() != dd.calls {
				t.Fatalf("Calls() %d but the model saw %d", s.Calls(), dd.calls)
			}
			for i := 0; i < L; i++ {
				_, _, p, err := evaluate.ChiSquareGOF(counts[i], d.probs(v, i, temp))
				if err != nil || p < 1e-3 {
					t.Errorf("temp %v cache %v position %d: counts %v, p = %v", temp, cache, i, counts[i], p)
				}
			}
		}
		if !slices.EqualFunc(results[0], results[1], slices.Equal) {
			t.Errorf("temp %v: ddpm_cache does not reproduce ddpm for the same seed", temp)
		}
		if calls[1] >= calls[0] {
			t.Errorf("ddpm_cache made %d model calls, ddpm %d", calls[1], calls[0])
		}
		t.Logf("temp %v: model calls ddpm %d, ddpm_cache %d", temp, calls[0], calls[1])
	}
	// Different seeds: the two samplers' outputs are draws of one distribution.
	a, _ := samplePositions(t, &indepDenoiser{V: d.V, table: d.table}, v, SampleConfig{Steps: 50, Seed: 2}, 500, B, L)
	b, _ := samplePositions(t, &indepDenoiser{V: d.V, table: d.table}, v, SampleConfig{Steps: 50, Cache: true, Seed: 3}, 500, B, L)
	for i := 0; i < L; i++ {
		if _, _, p, _ := evaluate.ChiSquareHomogeneity(a[i], b[i]); p < 1e-3 {
			t.Errorf("position %d: ddpm %v vs ddpm_cache %v, p = %v", i, a[i], b[i], p)
		}
	}
}

// TestDDPMMarkovJoint: with the exact conditionals of a Markov chain and
// many steps (so two positions are rarely revealed together), the joint
// distribution of the samples is the chain's.
func TestDDPMMarkovJoint(t *testing.T) {
	v := vocab.DNA()
	L := 3
	m := newMarkov(rand.New(rand.NewPCG(12, 12)), L)
	d := &markovDenoiser{m: m, V: v.Size, mask: v.Mask}
	s, _ := NewSampler(d, v, SampleConfig{Steps: 1000, Cache: true, Seed: 5})
	B := 100
	checkMarkovJoint(t, s, m, v, B, 40)
	// At most one call per step in which something was revealed, plus the first.
	if s.Calls() > 40*(B*L+1) || s.Calls() >= 40*1000 {
		t.Fatalf("ddpm_cache made %d calls for 40 batches of %d positions, 1000 steps", s.Calls(), B*L)
	}
}

// checkMarkovJoint draws n batches of B rows of 3 positions with s and
// checks their joint against the chain m's by a chi-square test.
func checkMarkovJoint(t *testing.T, s *Sampler, m *markov, v vocab.Vocab, B, n int) {
	t.Helper()
	const L = 3
	counts := make([]int, 64)
	z := make([]int32, B*L)
	for range n {
		for i := range z {
			z[i] = v.Mask
		}
		if err := s.Sample(z, B, L); err != nil {
			t.Fatal(err)
		}
		for b := 0; b < B; b++ {
			k := 0
			for _, id := range z[b*L : (b+1)*L] {
				if id < 7 || id > 10 {
					t.Fatalf("sampled %d, the model gives it probability 0", id)
				}
				k = k*4 + int(id-7)
			}
			counts[k]++
		}
	}
	probs := make([]float64, 64)
	for k := range probs {
		a, b, c := k/16, k/4%4, k%4
		probs[k] = m.pi[a] * m.P[a][b] * m.P[b][c]
	}
	if _, _, p, err := evaluate.ChiSquareGOF(counts, probs); err != nil || p < 1e-3 {
		t.Fatalf("joint of 3 positions: p = %v (%v)", p, err)
	}
}

// TestClamped: positions not holding [MASK] never change (prefix, suffix,
// one in the middle, PAD), nothing stays masked.
func TestClamped(t *testing.T) {
	v := vocab.DNA()
	L := 12
	d := newIndep(rand.New(rand.NewPCG(13, 13)), v, L)
	row, err := Template(v, L, []int32{7, 7, 8}, []int32{10, 9})
	if err != nil {
		t.Fatal(err)
	}
	row[5] = 11
	row[8] = v.Pad
	B := 20
	z := make([]int32, 0, B*L)
	for b := 0; b < B; b++ {
		z = append(z, row...)
	}
	for _, cache := range []bool{false, true} {
		s, _ := NewSampler(d, v, SampleConfig{Steps: 7, Cache: cache, Seed: 4})
		got := slices.Clone(z)
		if err := s.Sample(got, B, L); err != nil {
			t.Fatal(err)
		}
		for i, id := range got {
			if row[i%L] != v.Mask && id != row[i%L] {
				t.Fatalf("clamped position %d changed from %d to %d", i%L, row[i%L], id)
			}
			if id == v.Mask {
				t.Fatalf("position %d still masked", i)
			}
		}
	}
	if _, err := Template(v, 3, []int32{7, 7}, []int32{8, 8}); err == nil {
		t.Fatal("template longer than L accepted")
	}
}

func TestSamplerDeterministic(t *testing.T) {
	v := vocab.DNA()
	L := 16
	d := newIndep(rand.New(rand.NewPCG(14, 14)), v, L)
	run := func(seed uint64) []int32 {
		s, _ := NewSampler(d, v, SampleConfig{Steps: 10, Seed: seed})
		z, _ := Template(v, L, nil, nil)
		if err := s.Sample(z, 1, L); err != nil {
			t.Fatal(err)
		}
		return z
	}
	if !slices.Equal(run(1), run(1)) {
		t.Fatal("same seed, different samples")
	}
	if slices.Equal(run(1), run(2)) {
		t.Fatal("different seeds, same 16-token sample")
	}
	if _, err := NewSampler(d, v, SampleConfig{Steps: 0}); err == nil {
		t.Fatal("0 steps accepted")
	}
	if _, err := NewSampler(d, v, SampleConfig{Steps: 3, Temperature: -1}); err == nil {
		t.Fatal("negative temperature accepted")
	}
}

// recorder keeps a copy of every input the model sees.
type recorder struct {
	Denoiser
	seen [][]int32
	L    []int
}

func (r *recorder) Logits(z []int32, B, L int, t []float32, out []float32) error {
	r.seen = append(r.seen, slices.Clone(z))
	r.L = append(r.L, L)
	return r.Denoiser.Logits(z, B, L, t, out)
}

// timeCond is a time-conditioned model: the cache must be off for it.
type timeCond struct{ Denoiser }

func (timeCond) TimeConditioned() bool { return true }

func TestCacheOffForTimeConditioning(t *testing.T) {
	v := vocab.DNA()
	d := newIndep(rand.New(rand.NewPCG(15, 15)), v, 4)
	s, _ := NewSampler(timeCond{d}, v, SampleConfig{Steps: 40, Cache: true})
	z, _ := Template(v, 4, nil, nil)
	if err := s.Sample(z, 1, 4); err != nil {
		t.Fatal(err)
	}
	// Without the cache the model is called every step until the last reveal.
	if s.Calls() < 4 || s.Calls() != d.calls {
		t.Fatalf("%d calls", s.Calls())
	}
	s2, _ := NewSampler(d, v, SampleConfig{Steps: 40, Cache: true})
	z, _ = Template(v, 4, nil, nil)
	_ = s2.Sample(z, 1, 4)
	if s2.Calls() > 5 {
		t.Fatalf("cached sampler made %d calls for 4 positions", s2.Calls())
	}
}

// TestSampleLong: output length, prompt kept, and every window after the
// first is the last L-n generated tokens (clamped) followed by n masks.
func TestSampleLong(t *testing.T) {
	v := vocab.DNA()
	L, B, P, total, stride := 16, 3, 3, 50, 5
	base := newIndep(rand.New(rand.NewPCG(16, 16)), v, L)
	rec := &recorder{Denoiser: base}
	s, _ := NewSampler(rec, v, SampleConfig{Steps: 8, Cache: true, Seed: 7})
	prompt := []int32{7, 8, 9, 10, 10, 10, 11, 7, 7}
	out, err := s.SampleLong(prompt, B, P, L, total, stride)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != B*total {
		t.Fatalf("%d tokens, want %d", len(out), B*total)
	}
	for b := 0; b < B; b++ {
		if !slices.Equal(out[b*total:b*total+P], prompt[b*P:(b+1)*P]) {
			t.Fatal("prompt changed")
		}
	}
	if slices.Contains(out, v.Mask) {
		t.Fatal("mask left in the output")
	}
	// Windows: [0,16) then starts 5, 10, 15, 20, 25, 30 (n=5) and 34 (n=4).
	type win struct{ start, n int }
	wins := []win{{5, 5}, {10, 5}, {15, 5}, {20, 5}, {25, 5}, {30, 5}, {34, 4}}
	next := 0
	for ci, z := range rec.seen {
		if rec.L[ci] != L {
			t.Fatalf("call %d saw length %d, want %d", ci, rec.L[ci], L)
		}
		if next == len(wins) {
			break
		}
		w := wins[next]
		match := true
		for b := 0; b < B && match; b++ {
			row := z[b*L : (b+1)*L]
			if !slices.Equal(row[:L-w.n], out[b*total+w.start:b*total+w.start+L-w.n]) {
				match = false
			}
			for _, id := range row[L-w.n:] {
				if id != v.Mask {
					match = false
				}
			}
		}
		if match {
			next++
		}
	}
	if next != len(wins) {
		t.Fatalf("only %d of %d semi-autoregressive windows found with their clamped overlap", next, len(wins))
	}
	// A prompt longer than the context starts sliding at once.
	long := make([]int32, 20)
	for i := range long {
		long[i] = 7 + int32(i%4)
	}
	out, err = s.SampleLong(long, 1, 20, L, 23, 2)
	if err != nil || len(out) != 23 || !slices.Equal(out[:20], long) || slices.Contains(out, v.Mask) {
		t.Fatalf("long prompt: %v %v", out, err)
	}
	if _, err := s.SampleLong(nil, 1, 0, L, 40, L+1); err == nil {
		t.Fatal("stride above L accepted")
	}
}

// TestExpectedCalls: the sampler's mean model calls and row evaluations
// over many runs match ExpectedCalls, with and without the cache, for one
// row and a batch, for the log-linear schedule (uniform reveal steps) and
// the cosine one (not); and the closed form T (1 - (1 - 1/T)^L) of the
// log-linear cache per row.
func TestExpectedCalls(t *testing.T) {
	v := vocab.DNA()
	const L, T, runs = 24, 40, 300
	d := newIndep(rand.New(rand.NewPCG(16, 16)), v, L)
	for _, sch := range []Schedule{LogLinear{Eps: DefaultEps}, Cosine{Eps: DefaultEps}} {
		for _, B := range []int{1, 3} {
			e := ExpectedCalls(sch, T, B, L)
			for _, cache := range []bool{false, true} {
				s, _ := NewSampler(d, v, SampleConfig{Steps: T, Schedule: sch, Cache: cache, Seed: uint64(B)})
				var calls, rows, sq, sqR float64
				for r := 0; r < runs; r++ {
					c0, r0 := s.Calls(), s.RowEvals()
					z := make([]int32, B*L)
					for i := range z {
						z[i] = v.Mask
					}
					if err := s.Sample(z, B, L); err != nil {
						t.Fatal(err)
					}
					c := float64(s.Calls() - c0)
					calls += c
					sq += c * c
					rw := float64(s.RowEvals() - r0)
					rows += rw
					sqR += rw * rw
				}
				mean := calls / runs
				se := math.Sqrt((sq/runs - mean*mean) / runs)
				meanR := rows / runs
				seR := math.Sqrt((sqR/runs - meanR*meanR) / runs)
				wantC, wantR := e.Calls, e.RowEvals
				if cache {
					wantC, wantR = e.CacheCalls, e.CacheRowEvals
				}
				if math.Abs(mean-wantC) > 4*se+0.05 || math.Abs(meanR-wantR) > 4*seR+0.05 {
					t.Errorf("%s B=%d cache=%v: mean %.3f calls, %.3f row evaluations over %d runs; expected %.3f and %.3f (se %.3f)",
						sch.Name(), B, cache, mean, meanR, runs, wantC, wantR, se)
				}
				if !cache && rows != calls*float64(B) {
					t.Errorf("%s B=%d: ddpm ran %v rows in %v calls", sch.Name(), B, rows, calls)
				}
			}
		}
	}
	for _, c := range [][2]int{{1000, 1024}, {10000, 1024}, {1000, 4096}} {
		T, L := c[0], c[1]
		e := ExpectedCalls(nil, T, 1, L)
		want := float64(T) * (1 - math.Pow(1-1/float64(T), float64(L)))
		if math.Abs(e.CacheCalls-want) > 1e-6*want || math.Abs(e.CacheRowEvals-want) > 1e-6*want {
			t.Errorf("T=%d L=%d: cache %.6f calls, %.6f rows; closed form %.6f", T, L, e.CacheCalls, e.CacheRowEvals, want)
		}
	}
	if e := ExpectedCalls(nil, 1000, 1, 1024); math.Abs(e.CacheCalls-641.1) > 0.1 || math.Abs(e.Calls-999.44) > 0.05 {
		t.Errorf("T=1000, L=1024: %.2f and %.2f calls, want about 999.44 and 641.1", e.Calls, e.CacheCalls)
	}
}
