package ar

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/seqdiff/seqdiff/vocab"
)

// StepModel is a causal model run one position at a time with its own key
// and value cache: Reset starts B empty rows; each Step appends one token
// per row (tokens has B ids) and writes the logits of the next token of
// every row into out (B*V, row-major).
type StepModel interface {
	Reset(B int) error
	Step(tokens []int32, out []float32) error
}

// Bounded is a StepModel whose cache holds at most Capacity positions (the
// model's context length). Sample slides a window over such a model.
type Bounded interface {
	Capacity() int
}

// Prefiller is a StepModel that can also feed P known tokens per row into
// its empty cache at once (tokens B x P), writing the logits that follow
// the last of them, as P Steps would: Sample uses it for the prompt and to
// refill the cache after a slide.
type Prefiller interface {
	Prefill(tokens []int32, P int, out []float32) error
}

// SampleConfig configures ancestral sampling.
type SampleConfig struct {
	Temperature float64 // divides the logits; 0 means 1
	TopK        int     // keep the K most likely ids; 0 keeps all; 1 is greedy
	TopP        float64 // keep the smallest most-likely set of mass >= TopP; 0 or 1 keeps all
	Seed        uint64
	// Keep is the number of most recent tokens a Bounded model keeps as
	// context when its cache is full (0: half its capacity).
	Keep int
}

// Sampler draws continuations from a StepModel.
type Sampler struct {
	v      vocab.Vocab
	cfg    SampleConfig
	rng    *rand.Rand
	ids    []int32
	p      []float64
	order  []int
	calls  int
	slides int
}

// NewSampler checks the configuration.
func NewSampler(v vocab.Vocab, cfg SampleConfig) (*Sampler, error) {
	if err := v.Validate(); err != nil {
		return nil, err
	}
	if cfg.Temperature == 0 {
		cfg.Temperature = 1
	}
	if cfg.Temperature < 0 || math.IsNaN(cfg.Temperature) || math.IsInf(cfg.Temperature, 0) {
		return nil, fmt.Errorf("ar sample: temperature %g must be positive", cfg.Temperature)
	}
	if cfg.TopK < 0 {
		return nil, fmt.Errorf("ar sample: top-k %d is negative", cfg.TopK)
	}
	if cfg.TopP < 0 || cfg.TopP > 1 || math.IsNaN(cfg.TopP) {
		return nil, fmt.Errorf("ar sample: top-p %g outside [0, 1]", cfg.TopP)
	}
	if cfg.Keep < 0 {
		return nil, fmt.Errorf("ar sample: keep %d is negative", cfg.Keep)
	}
	ids := v.SamplableIDs()
	return &Sampler{v: v, cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0xa5)), ids: ids,
		p: make([]float64, len(ids)), order: make([]int, len(ids))}, nil
}

// Steps is the number of positions fed to the model so far, by Step or
// Prefill (re-encoding after a slide included).
func (s *Sampler) Steps() int { return s.calls }

// Slides is the number of times the window slid (the cache was refilled).
func (s *Sampler) Slides() int { return s.slides }

// Sample continues B prompts of P tokens each (prompt is B x P, P >= 1:
// the first token of a row is never predicted, so a model trained with a
// leading [BOS] takes [BOS] here, and one trained on raw windows takes at
// least one base) by n tokens, and returns the B x (P+n) rows. The prompt
// is fed one position at a time (P steps), then each drawn token is fed
// back: P + n - 1 steps in all.
//
// Past the context of a Bounded model (P + n - 1 > Capacity) the window
// slides: when the cache is full it is reset and the last Keep tokens
// (half the capacity by default) are fed again, so every later token is
// drawn given at least Keep and at most Capacity tokens before it, at the
// positions 0.. of a fresh cache (rotary attention sees only relative
// positions). Each slide costs Keep - 1 extra steps.
func (s *Sampler) Sample(m StepModel, prompt []int32, B, P, n int) ([]int32, error) {
	if P < 1 {
		return nil, fmt.Errorf("ar sample: empty prompt; give at least one token per row ([BOS] or a base)")
	}
	if err := s.v.Check(prompt, B, P, false); err != nil {
		return nil, fmt.Errorf("ar sample: prompt: %w", err)
	}
	if n < 0 {
		return nil, fmt.Errorf("ar sample: %d new tokens", n)
	}
	V := s.v.Size
	W := P + n
	out := make([]int32, B*W)
	for b := 0; b < B; b++ {
		copy(out[b*W:], prompt[b*P:(b+1)*P])
	}
	if n == 0 {
		return out, nil
	}
	if err := m.Reset(B); err != nil {
		return nil, fmt.Errorf("ar sample: reset: %w", err)
	}
	capacity, keep := W, 0 // unbounded: never slides
	if bm, ok := m.(Bounded); ok {
		capacity = bm.Capacity()
		if capacity < 1 {
			return nil, fmt.Errorf("ar sample: model capacity %d", capacity)
		}
		keep = s.cfg.Keep
		if keep == 0 {
			keep = max(capacity/2, 1)
		}
		if keep > capacity {
			return nil, fmt.Errorf("ar sample: keep %d exceeds the model's context %d", keep, capacity)
		}
	}
	tok := make([]int32, B)
	logits := make([]float32, B*V)
	step := func(pos int) error {
		for b := 0; b < B; b++ {
			tok[b] = out[b*W+pos]
		}
		if err := m.Step(tok, logits); err != nil {
			return fmt.Errorf("ar sample: position %d: %w", pos, err)
		}
		s.calls++
		return nil
	}
	pf, canPrefill := m.(Prefiller)
	var block []int32
	// prefill feeds positions from..to (known tokens) into the empty cache.
	prefill := func(from, to int) error {
		n := to - from + 1
		block = block[:0]
		for b := 0; b < B; b++ {
			block = append(block, out[b*W+from:b*W+to+1]...)
		}
		if err := pf.Prefill(block, n, logits); err != nil {
			return fmt.Errorf("ar sample: positions %d..%d: %w", from, to, err)
		}
		s.calls += n
		return nil
	}
	fed := 0 // positions in the model's cache
	for pos := 0; pos < W-1; pos++ {
		switch {
		case fed == capacity:
			// Slide: refill the cache with the keep tokens ending at pos,
			// so keep tokens precede the next draw.
			if err := m.Reset(B); err != nil {
				return nil, fmt.Errorf("ar sample: reset at position %d: %w", pos, err)
			}
			s.slides++
			if canPrefill {
				if err := prefill(pos-keep+1, pos); err != nil {
					return nil, err
				}
			} else {
				for q := pos - keep + 1; q <= pos; q++ {
					if err := step(q); err != nil {
						return nil, err
					}
				}
			}
			fed = keep
		case fed == 0 && canPrefill && P > 1:
			// The prompt, or as much of it as the cache holds, at once.
			last := min(P, capacity, W-1) - 1
			if err := prefill(0, last); err != nil {
				return nil, err
			}
			fed, pos = last+1, last
		default:
			if err := step(pos); err != nil {
				return nil, err
			}
			fed++
		}
		if pos+1 < P {
			continue // still reading the prompt
		}
		for b := 0; b < B; b++ {
			id, err := s.Draw(logits[b*V : (b+1)*V])
			if err != nil {
				return nil, fmt.Errorf("ar sample: row %d position %d: %w", b, pos+1, err)
			}
			out[b*W+pos+1] = id
		}
	}
	return out, nil
}

// Draw samples one id from a row of V logits after restricting to the
// samplable ids and applying temperature, top-k and top-p. NaN logits, or
// no finite logit among the samplable ids, are an error (a broken model).
func (s *Sampler) Draw(logits []float32) (int32, error) {
	k, err := s.filter(logits)
	if err != nil {
		return 0, err
	}
	var sum float64
	for _, j := range s.order[:k] {
		sum += s.p[j]
	}
	u := s.rng.Float64() * sum
	for _, j := range s.order[:k] {
		if u < s.p[j] {
			return s.ids[j], nil
		}
		u -= s.p[j]
	}
	return s.ids[s.order[k-1]], nil
}

// filter fills s.p with the tempered probabilities of the samplable ids
// and s.order with their indices, most likely first; it returns how many
// survive top-k and top-p (at least one).
func (s *Sampler) filter(logits []float32) (int, error) {
	inv := 1 / s.cfg.Temperature
	mx := math.Inf(-1)
	for _, id := range s.ids {
		mx = math.Max(mx, float64(logits[id])*inv)
	}
	var sum float64
	for j, id := range s.ids {
		s.p[j] = math.Exp(float64(logits[id])*inv - mx)
		sum += s.p[j]
		s.order[j] = j
	}
	if !(sum > 0) || math.IsInf(sum, 0) {
		return 0, fmt.Errorf("model gives no finite probability to any samplable id")
	}
	for j := range s.p {
		s.p[j] /= sum
	}
	sort.SliceStable(s.order, func(a, b int) bool { return s.p[s.order[a]] > s.p[s.order[b]] })
	k := len(s.ids)
	if s.cfg.TopK > 0 && s.cfg.TopK < k {
		k = s.cfg.TopK
	}
	if p := s.cfg.TopP; p > 0 && p < 1 {
		var kept float64
		for _, j := range s.order[:k] {
			kept += s.p[j]
		}
		var cum float64
		for i, j := range s.order[:k] {
			cum += s.p[j] / kept
			if cum >= p-1e-12 {
				k = i + 1
				break
			}
		}
	}
	return k, nil
}
