package ar

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/seqdiff/seqdiff/evaluate"
	"github.com/seqdiff/seqdiff/vocab"
)

func TestShift(t *testing.T) {
	v := vocab.DNA()
	x := []int32{7, 8, 9, 10, 2, 7, 4, 4}
	var b Batch
	if err := Shift(v, x, 2, 4, &b); err != nil {
		t.Fatal(err)
	}
	if b.L != 3 || !slices.Equal(b.Inputs, []int32{7, 8, 9, 2, 7, 4}) || !slices.Equal(b.Targets, []int32{8, 9, 10, 7, 4, 4}) {
		t.Fatalf("inputs %v targets %v", b.Inputs, b.Targets)
	}
	if !slices.Equal(b.Weights, []float32{1, 1, 1, 1, 0, 0}) || b.Norm != 4 {
		t.Fatalf("weights %v norm %d", b.Weights, b.Norm)
	}
	pad := []int32{4, 4, 4, 4, 4, 4}
	if err := Shift(v, pad, 2, 3, &b); err != nil || b.Norm != 0 || b.Scale() != 0 {
		t.Fatalf("all-PAD: norm %d scale %v err %v", b.Norm, b.Scale(), err)
	}
	for _, w := range b.Weights {
		if w != 0 {
			t.Fatal("all-PAD batch has a weight")
		}
	}
	if err := Shift(v, []int32{7}, 1, 1, &b); err == nil {
		t.Fatal("one-token rows accepted")
	}
	if err := Shift(v, []int32{7, 12}, 1, 2, &b); err == nil {
		t.Fatal("id outside the vocabulary accepted")
	}
}

// chain is a first-order Markov chain over A C G T (ids 7..10).
type chain struct {
	P  [4][4]float64
	pi [4]float64
}

func newChain(rng *rand.Rand) *chain {
	c := &chain{}
	for a := range c.P {
		var s float64
		for b := range c.P[a] {
			c.P[a][b] = 0.05 + rng.Float64()
			s += c.P[a][b]
		}
		for b := range c.P[a] {
			c.P[a][b] /= s
		}
	}
	c.pi = [4]float64{0.25, 0.25, 0.25, 0.25}
	for it := 0; it < 1000; it++ {
		var nx [4]float64
		for a := range c.pi {
			for b := range nx {
				nx[b] += c.pi[a] * c.P[a][b]
			}
		}
		c.pi = nx
	}
	return c
}

func (c *chain) entropyRate() float64 {
	var h float64
	for a := range c.P {
		for b := range c.P[a] {
			h -= c.pi[a] * c.P[a][b] * math.Log(c.P[a][b])
		}
	}
	return h
}

func drawF(rng *rand.Rand, p []float64) int {
	u := rng.Float64()
	for i, q := range p {
		if u < q {
			return i
		}
		u -= q
	}
	return len(p) - 1
}

// logitsAfter writes log P[prev] at the bases, and large logits at
// specials that the sampler must never emit.
func (c *chain) logitsAfter(prev int32, out []float32) {
	for i := range out {
		out[i] = -30
	}
	out[4], out[3], out[0] = 5, 5, 5 // PAD, MASK, CLS: not samplable
	for w := 0; w < 4; w++ {
		out[7+w] = float32(math.Log(c.P[prev-7][w]))
	}
	out[11] = float32(math.Inf(-1)) // N: probability 0
}

// TestExactNLLMarkov: with the chain's true conditionals as logits, the
// accumulated NLL equals -log p(x_1..n | x_0) exactly and its mean is the
// entropy rate within Monte Carlo error.
func TestExactNLLMarkov(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	c := newChain(rng)
	v := vocab.DNA()
	L := 200000
	x := make([]int32, L)
	s := drawF(rng, c.pi[:])
	var exact float64
	for i := range x {
		if i > 0 {
			ns := drawF(rng, c.P[s][:])
			exact -= math.Log(c.P[s][ns])
			s = ns
		}
		x[i] = int32(7 + s)
	}
	var b Batch
	if err := Shift(v, x, 1, L, &b); err != nil {
		t.Fatal(err)
	}
	logits := make([]float32, len(b.Inputs)*v.Size)
	for i, in := range b.Inputs {
		c.logitsAfter(in, logits[i*v.Size:(i+1)*v.Size])
	}
	var nll evaluate.NLL
	if err := AddNLL(&nll, logits, b.Targets, v.Size, v.Pad); err != nil {
		t.Fatal(err)
	}
	if nll.Tokens != int64(L-1) {
		t.Fatalf("count %d", nll.Tokens)
	}
	// The model also puts mass on PAD/MASK/CLS (logit 5), so rebuild the
	// exact NLL under that model: log-softmax over the full row.
	var want float64
	for i, tg := range b.Targets {
		row := logits[i*v.Size : (i+1)*v.Size]
		var z float64
		for _, l := range row {
			z += math.Exp(float64(l))
		}
		want -= float64(row[tg]) - math.Log(z)
	}
	if math.Abs(nll.Sum-want) > 1e-6*want {
		t.Fatalf("NLL %v, exact %v", nll.Sum, want)
	}
	// Without the specials' mass, it is the chain's own likelihood.
	for i := range logits {
		if i%v.Size < 7 {
			logits[i] = float32(math.Inf(-1))
		}
	}
	nll = evaluate.NLL{}
	_ = AddNLL(&nll, logits, b.Targets, v.Size, v.Pad)
	if math.Abs(nll.Sum-exact) > 1e-6*exact {
		t.Fatalf("NLL %v, chain's -log p %v", nll.Sum, exact)
	}
	h := c.entropyRate()
	if math.Abs(nll.PerToken()-h) > 0.01 {
		t.Fatalf("NLL per token %.4f, entropy rate %.4f", nll.PerToken(), h)
	}
	t.Logf("NLL %.4f nats/token, entropy rate %.4f, perplexity %.4f", nll.PerToken(), h, nll.Perplexity())
	var empty evaluate.NLL
	if err := AddNLL(&empty, logits[:2*v.Size], []int32{4, 4}, v.Size, v.Pad); err != nil || empty.Tokens != 0 || empty.PerToken() != 0 {
		t.Fatalf("all-PAD targets: %v %v", empty, err)
	}
}

// markovStep is a StepModel with a one-token "cache": the last token of
// each row.
type markovStep struct {
	c      *chain
	V      int
	last   []int32
	resets int
	steps  int
}

func (m *markovStep) Reset(B int) error {
	m.last = make([]int32, B)
	m.resets++
	return nil
}

func (m *markovStep) Step(tokens []int32, out []float32) error {
	m.steps++
	copy(m.last, tokens)
	for b, tk := range tokens {
		m.c.logitsAfter(tk, out[b*m.V:(b+1)*m.V])
	}
	return nil
}

// transitions samples B rows of n tokens after a one-base prompt and
// counts transitions prev -> next.
func transitions(t *testing.T, s *Sampler, m *markovStep, B, n int) [4][]int {
	t.Helper()
	prompt := make([]int32, B)
	for b := range prompt {
		prompt[b] = int32(7 + b%4)
	}
	out, err := s.Sample(m, prompt, B, 1, n)
	if err != nil {
		t.Fatal(err)
	}
	var counts [4][]int
	for a := range counts {
		counts[a] = make([]int, 5)
	}
	for b := 0; b < B; b++ {
		row := out[b*(n+1) : (b+1)*(n+1)]
		for i := 1; i < len(row); i++ {
			if row[i] < 7 || row[i] > 11 {
				t.Fatalf("sampled %d, outside the samplable set", row[i])
			}
			counts[row[i-1]-7][row[i]-7]++
		}
	}
	return counts
}

func TestSampleMarkovTransitions(t *testing.T) {
	c := newChain(rand.New(rand.NewPCG(2, 2)))
	v := vocab.DNA()
	for _, temp := range []float64{1, 0.6} {
		s, _ := NewSampler(v, SampleConfig{Temperature: temp, Seed: 3})
		m := &markovStep{c: c, V: v.Size}
		B, n := 20, 1000
		counts := transitions(t, s, m, B, n)
		if m.resets != 1 || m.steps != n || s.Steps() != n {
			t.Fatalf("resets %d steps %d (sampler says %d), want 1 and %d", m.resets, m.steps, s.Steps(), n)
		}
		for a := 0; a < 4; a++ {
			want := make([]float64, 5)
			var z float64
			for w := 0; w < 4; w++ {
				want[w] = math.Pow(c.P[a][w], 1/temp)
				z += want[w]
			}
			for w := range want {
				want[w] /= z
			}
			_, _, p, err := evaluate.ChiSquareGOF(counts[a], want)
			if err != nil || p < 1e-3 {
				t.Errorf("temp %v, after %d: %v, p = %v", temp, a, counts[a], p)
			}
		}
	}
}

func TestGreedyAndTopK(t *testing.T) {
	c := newChain(rand.New(rand.NewPCG(4, 4)))
	v := vocab.DNA()
	s, _ := NewSampler(v, SampleConfig{TopK: 1, Seed: 5})
	out, err := s.Sample(&markovStep{c: c, V: v.Size}, []int32{7, 9}, 2, 1, 30)
	if err != nil {
		t.Fatal(err)
	}
	for b := 0; b < 2; b++ {
		row := out[b*31 : (b+1)*31]
		for i := 1; i < len(row); i++ {
			a := row[i-1] - 7
			best := 0
			for w := 1; w < 4; w++ {
				if c.P[a][w] > c.P[a][best] {
					best = w
				}
			}
			if row[i] != int32(7+best) {
				t.Fatalf("top-k 1 is not greedy at %d: %v", i, row)
			}
		}
	}
	// Top-k 2: only the two most likely successors ever appear.
	s2, _ := NewSampler(v, SampleConfig{TopK: 2, Seed: 6})
	counts := transitions(t, s2, &markovStep{c: c, V: v.Size}, 8, 500)
	for a := 0; a < 4; a++ {
		order := []int{0, 1, 2, 3}
		slices.SortFunc(order, func(x, y int) int {
			if c.P[a][x] > c.P[a][y] {
				return -1
			}
			return 1
		})
		want := make([]float64, 5)
		z := c.P[a][order[0]] + c.P[a][order[1]]
		want[order[0]], want[order[1]] = c.P[a][order[0]]/z, c.P[a][order[1]]/z
		if _, _, p, _ := evaluate.ChiSquareGOF(counts[a], want); p < 1e-3 {
			t.Errorf("top-k 2 after %d: %v vs %v (p = %v)", a, counts[a], want, p)
		}
	}
}

// fixedStep always returns the same logits.
type fixedStep struct{ logits []float32 }

func (f *fixedStep) Reset(int) error { return nil }
func (f *fixedStep) Step(tokens []int32, out []float32) error {
	for b := range tokens {
		copy(out[b*len(f.logits):], f.logits)
	}
	return nil
}

// TestTopP: with probabilities 0.5, 0.3, 0.15, 0.05 over A C G T and top-p
// 0.8, only A and C survive, renormalised to 0.625 / 0.375.
func TestTopP(t *testing.T) {
	v := vocab.DNA()
	logits := make([]float32, v.Size)
	for i := range logits {
		logits[i] = float32(math.Inf(-1))
	}
	for i, p := range []float64{0.5, 0.3, 0.15, 0.05} {
		logits[7+i] = float32(math.Log(p))
	}
	logits[2] = 50 // [BOS]: not samplable
	s, _ := NewSampler(v, SampleConfig{TopP: 0.8, Seed: 7})
	out, err := s.Sample(&fixedStep{logits}, []int32{7, 7, 7, 7}, 4, 1, 2000)
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]int, 5)
	for i, id := range out {
		if i%2001 == 0 {
			continue
		}
		if id < 7 || id > 11 {
			t.Fatalf("sampled %d", id)
		}
		counts[id-7]++
	}
	if counts[2]+counts[3]+counts[4] != 0 {
		t.Fatalf("top-p 0.8 let tail tokens through: %v", counts)
	}
	if _, _, p, _ := evaluate.ChiSquareGOF(counts, []float64{0.625, 0.375, 0, 0, 0}); p < 1e-3 {
		t.Fatalf("top-p counts %v, p = %v", counts, p)
	}
	// Top-p 0.9 keeps G as well (0.5+0.3 < 0.9 <= 0.95).
	s, _ = NewSampler(v, SampleConfig{TopP: 0.9, Seed: 8})
	seen := map[int32]bool{}
	out, _ = s.Sample(&fixedStep{logits}, []int32{7}, 1, 1, 3000)
	for _, id := range out[1:] {
		seen[id] = true
	}
	if !seen[9] || seen[10] {
		t.Fatalf("top-p 0.9 kept %v", seen)
	}
}

func TestSampleErrors(t *testing.T) {
	v := vocab.DNA()
	s, _ := NewSampler(v, SampleConfig{})
	if _, err := s.Sample(&fixedStep{make([]float32, 12)}, nil, 1, 0, 5); err == nil {
		t.Fatal("empty prompt accepted")
	}
	if _, err := s.Sample(&fixedStep{make([]float32, 12)}, []int32{99}, 1, 1, 5); err == nil {
		t.Fatal("bad prompt id accepted")
	}
	for _, cfg := range []SampleConfig{{Temperature: -1}, {TopK: -2}, {TopP: 1.5}} {
		if _, err := NewSampler(v, cfg); err == nil {
			t.Fatalf("config %+v accepted", cfg)
		}
	}
	// Prompt longer than one: P + n - 1 steps, prompt kept.
	m := &markovStep{c: newChain(rand.New(rand.NewPCG(9, 9))), V: v.Size}
	out, err := s.Sample(m, []int32{7, 8, 9}, 1, 3, 4)
	if err != nil || !slices.Equal(out[:3], []int32{7, 8, 9}) || len(out) != 7 || m.steps != 6 {
		t.Fatalf("out %v steps %d err %v", out, m.steps, err)
	}
}

func TestNaNLogits(t *testing.T) {
	v := vocab.DNA()
	logits := make([]float32, v.Size)
	for i := range logits {
		logits[i] = float32(math.NaN())
	}
	s, _ := NewSampler(v, SampleConfig{})
	if _, err := s.Sample(&fixedStep{logits}, []int32{7}, 1, 1, 3); err == nil {
		t.Fatal("NaN logits sampled silently")
	}
	var n evaluate.NLL
	if err := AddNLL(&n, logits, []int32{7}, v.Size, v.Pad); err == nil {
		t.Fatal("NaN logits scored silently")
	}
}
