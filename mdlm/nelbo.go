package mdlm

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/seqdiff/seqdiff/evaluate"
	"github.com/seqdiff/seqdiff/vocab"
)

// NELBOConfig configures the Monte Carlo NELBO estimate of an MDLM.
type NELBOConfig struct {
	Schedule Schedule // nil means LogLinear{DefaultEps}
	K        int      // draws of (t, mask) per sequence; must be >= 1
	Seed     uint64
	Eps      float64 // t lies in [Eps, 1]; 0 means DefaultEps
}

// Evaluator accumulates the NELBO of a Denoiser over batches.
//
// Row r (counted from 0 across all Add calls) draws its K times and masks
// from its own generator seeded by (Seed, r), with stratified times
// t_k = eps + (1 - eps) ((u_r + k/K) mod 1): so the estimate is
// deterministic, independent of the batch size, and each sequence's K
// draws cover [eps, 1] evenly.
//
// Alongside the total it splits the NELBO by t (NLL.ByT, evaluate.TBin):
// each (row, draw) adds its term / K and its row's non-PAD tokens / K to
// the bin of its t, so the bins add up to the total.
type Evaluator struct {
	d      Denoiser
	v      vocab.Vocab
	cfg    NELBOConfig
	row    uint64
	z      []int32
	t      []float32
	w      []float64
	logits []float32
	pos    []int32   // masked positions of a draw
	tgt    []int32   // their clean tokens
	lp     []float64 // log p(tgt | z_t) at each
	rngs   []*rand.Rand

	// binNats and binTokens are summed per bin of t for NLL.ByT.
	binNats, binTokens [evaluate.TBins]float64
	// PerRow, when set, is called for each row Add scores (PAD rows too)
	// with its index, non-PAD tokens and NELBO averaged over the K draws.
	PerRow func(evaluate.RowNLL)
	// NLL is the accumulated NELBO (Bound set): Sum over sequences of the
	// mean over K draws of sum_masked w(t) * -log p(x0_i | z_t), over the
	// non-PAD Tokens. It bounds the negative log-likelihood from above in
	// expectation, so its perplexity is an upper bound.
	evaluate.NLL
}

// NewEvaluator checks the configuration.
func NewEvaluator(d Denoiser, v vocab.Vocab, cfg NELBOConfig) (*Evaluator, error) {
	if err := v.Validate(); err != nil {
		return nil, err
	}
	if cfg.K < 1 {
		return nil, fmt.Errorf("nelbo: K = %d draws, need at least 1", cfg.K)
	}
	if cfg.Schedule == nil {
		cfg.Schedule = LogLinear{Eps: DefaultEps}
	}
	if cfg.Eps == 0 {
		cfg.Eps = DefaultEps
	}
	if cfg.Eps < 0 || cfg.Eps >= 1 {
		return nil, fmt.Errorf("nelbo: eps %g outside (0, 1)", cfg.Eps)
	}
	return &Evaluator{d: d, v: v, cfg: cfg, NLL: evaluate.NLL{Bound: true, K: cfg.K}}, nil
}

// logProbs fills e.pos with the masked positions of e.z and e.lp with
// log p(x0 | z_t) at each: from the denoiser itself when it computes them
// (PositionLogProbs: one value per position leaves the backend), else from
// its full logits.
func (e *Evaluator) logProbs(x0 []int32, B, L, V int) error {
	e.pos, e.tgt = e.pos[:0], e.tgt[:0]
	for i, zi := range e.z {
		if zi == e.v.Mask {
			e.pos = append(e.pos, int32(i))
			e.tgt = append(e.tgt, x0[i])
		}
	}
	e.lp = grow(e.lp, len(e.pos))
	if pl, ok := e.d.(PositionLogProbs); ok {
		return pl.LogProbsAt(e.z, B, L, e.t, e.pos, e.tgt, e.lp)
	}
	e.logits = grow(e.logits, B*L*V)
	if err := e.d.Logits(e.z, B, L, e.t, e.logits); err != nil {
		return err
	}
	for j, i := range e.pos {
		e.lp[j] = logProbOf(e.logits[int(i)*V:(int(i)+1)*V], int(e.tgt[j]), e.v.Mask)
	}
	return nil
}

// Add scores clean rows x0 (B x L). Rows of only [PAD] add nothing.
func (e *Evaluator) Add(x0 []int32, B, L int) error { return e.add(x0, B, L, nil) }

// AddKeyed is Add with row b's draws taken from the generator seeded by
// (Seed, keys[b]) instead of (Seed, its running index): rows given the
// same key get the same K times and, when their non-PAD positions are the
// same, the same masked positions (common random numbers), whatever their
// batch or order. Two sequences scored under one key differ in their
// NELBO by what they hold, not by their draws. Add is AddKeyed with keys
// 0, 1, 2, ... counted across calls.
func (e *Evaluator) AddKeyed(x0 []int32, B, L int, keys []uint64) error {
	if len(keys) != B {
		return fmt.Errorf("nelbo: %d keys for %d rows", len(keys), B)
	}
	return e.add(x0, B, L, keys)
}

func (e *Evaluator) add(x0 []int32, B, L int, keys []uint64) error {
	v := e.v
	if err := v.Check(x0, B, L, true); err != nil {
		return fmt.Errorf("nelbo: %w", err)
	}
	V := v.Size
	e.z = grow(e.z, B*L)
	e.t = grow(e.t, B)
	e.w = grow(e.w, B)
	e.rngs = e.rngs[:0]
	us := make([]float64, B)
	for b := 0; b < B; b++ {
		key := e.row + uint64(b)
		if keys != nil {
			key = keys[b]
		}
		r := rand.New(rand.NewPCG(e.cfg.Seed, key))
		us[b] = r.Float64()
		e.rngs = append(e.rngs, r)
	}
	sums := make([]float64, B)
	draw := make([]float64, B) // this draw's term per row
	tokens := make([]int64, B)
	bin := make([]int, B)
	for b := 0; b < B; b++ {
		for _, id := range x0[b*L : (b+1)*L] {
			if id != v.Pad {
				tokens[b]++
			}
		}
	}
	K, eps, sch := e.cfg.K, e.cfg.Eps, e.cfg.Schedule
	for k := 0; k < K; k++ {
		any := false
		for b := 0; b < B; b++ {
			tb := eps + (1-eps)*math.Mod(us[b]+float64(k)/float64(K), 1)
			e.t[b] = float32(tb)
			bin[b] = evaluate.TBinOf(tb)
			draw[b] = 0
			pmask := 1 - sch.Alpha(tb)
			e.w[b] = sch.Weight(tb)
			for i := b * L; i < (b+1)*L; i++ {
				e.z[i] = x0[i]
				if x0[i] != v.Pad && e.rngs[b].Float64() < pmask {
					e.z[i] = v.Mask
					any = true
				}
			}
		}
		// With nothing masked every term is zero: no model call needed.
		if any {
			if err := e.logProbs(x0, B, L, V); err != nil {
				return fmt.Errorf("nelbo: draw %d: %w", k, err)
			}
			for j, i32 := range e.pos {
				i := int(i32)
				lp := e.lp[j]
				if math.IsNaN(lp) {
					return fmt.Errorf("nelbo: draw %d, row %d position %d: NaN log-probability", k, i/L, i%L)
				}
				// sums term by term (the totals do not depend on the bins),
				// draw per draw for the bin of its t
				sums[i/L] -= e.w[i/L] * lp
				draw[i/L] -= e.w[i/L] * lp
			}
		}
		for b := 0; b < B; b++ {
			e.binNats[bin[b]] += draw[b] / float64(K)
			e.binTokens[bin[b]] += float64(tokens[b]) / float64(K)
		}
	}
	for b := 0; b < B; b++ {
		e.Sum += sums[b] / float64(K)
		e.Tokens += tokens[b]
		if e.PerRow != nil {
			e.PerRow(evaluate.RowNLL{Row: int(e.row) + b, Tokens: tokens[b], NLL: sums[b] / float64(K)})
		}
	}
	e.ByT = evaluate.NewTBins(e.binNats[:], e.binTokens[:])
	e.row += uint64(B)
	return nil
}
