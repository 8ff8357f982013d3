package mdlm

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/seqdiff/seqdiff/vocab"
)

// TimeSampling is how a training batch draws its per-row times t in
// [eps, 1] (train.Config t_sampling). Under each scheme a row whose place
// in the batch is random has a t uniform on [eps, 1], so the batch's loss
// stays an unbiased NELBO estimate; they differ in how the B times of a
// batch depend on each other, and so in the loss's variance.
type TimeSampling string

const (
	// Stratified: row b draws its own u_b ~ U(0, 1) inside its stratum,
	// t_b = eps + (1 - eps) (b + u_b)/B, as the MDLM reference's
	// antithetic_sampling does (diffusion.py _sample_t). The default.
	Stratified TimeSampling = "stratified"
	// Systematic: one u ~ U(0, 1) shared by the batch,
	// t_b = eps + (1 - eps) ((u + b/B) mod 1): evenly spaced times, what
	// seqdiff drew before t_sampling existed (kept to compare with old runs).
	Systematic TimeSampling = "systematic"
	// IID: t_b = eps + (1 - eps) u_b, independent draws (the plain Monte
	// Carlo estimate, for comparison).
	IID TimeSampling = "iid"
)

// TimeSamplings lists the schemes, the default first.
var TimeSamplings = []TimeSampling{Stratified, Systematic, IID}

// SampleT fills t with one time per row of a batch of len(t) rows, drawn
// from rng by scheme s. The stratified and systematic schemes spread the
// B times over [eps, 1], so the batch's loss has less variance than with
// independent draws.
func SampleT(rng *rand.Rand, s TimeSampling, eps float64, t []float32) error {
	B := float64(len(t))
	switch s {
	case Stratified:
		for b := range t {
			t[b] = float32(eps + (1-eps)*(float64(b)+rng.Float64())/B)
		}
	case Systematic:
		u := rng.Float64()
		for b := range t {
			t[b] = float32(eps + (1-eps)*math.Mod(u+float64(b)/B, 1))
		}
	case IID:
		for b := range t {
			t[b] = float32(eps + (1-eps)*rng.Float64())
		}
	default:
		return fmt.Errorf("t sampling %q: want stratified, systematic or iid", s)
	}
	return nil
}

// Batch is one training (or evaluation) batch for a weighted cross-entropy:
//
//	loss = sum_i Weights[i] * CE(logits_i, Targets[i]) / Norm
//
// where logits_i are the model's outputs on Input (the [MASK] logit banned
// for MDLM). Norm == 0 (a batch of only [PAD]) means the batch contributes
// nothing: every weight is then 0 and Scale returns 0, so no caller divides
// by zero.
type Batch struct {
	B, L    int
	Input   []int32   // B*L: z_t for MDLM, the corrupted tokens for MLM
	Targets []int32   // B*L: the clean tokens x0
	Weights []float32 // B*L: w(t_b) at masked non-PAD positions (MDLM), 1 at chosen positions (MLM), else 0
	Masked  []uint8   // B*L: 1 where the position was masked (MDLM) or chosen (MLM); torch_ref's "masked" file
	T       []float32 // B: the time of each row (MDLM; nil for MLM)
	Norm    int       // MDLM: non-PAD tokens in the batch; MLM: chosen positions
}

// Scale is 1/Norm, or 0 for an empty batch.
func (b *Batch) Scale() float32 {
	if b.Norm == 0 {
		return 0
	}
	return 1 / float32(b.Norm)
}

// Empty reports whether the batch holds nothing to learn from.
func (b *Batch) Empty() bool { return b.Norm == 0 }

func (b *Batch) resize(B, L int, withT bool) {
	n := B * L
	b.B, b.L, b.Norm = B, L, 0
	b.Input = grow(b.Input, n)
	b.Targets = grow(b.Targets, n)
	b.Weights = grow(b.Weights, n)
	b.Masked = grow(b.Masked, n)
	if withT {
		b.T = grow(b.T, B)
	} else {
		b.T = nil
	}
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// Forward applies the MDLM forward process to clean tokens x0 (B x L,
// row-major): every non-PAD token of row b is replaced by [MASK]
// independently with probability 1 - alpha(t[b]). It fills out (reusing
// its buffers) with z_t, the targets x0, the weights w(t[b]) at masked
// non-PAD positions and Norm = the number of non-PAD tokens. t must hold B
// times in (0, 1] (SampleT draws them). x0 must not contain [MASK].
func Forward(v vocab.Vocab, sch Schedule, x0 []int32, B, L int, t []float32, rng *rand.Rand, out *Batch) error {
	if err := checkForward(v, x0, B, L, t); err != nil {
		return err
	}
	out.resize(B, L, true)
	for b := 0; b < B; b++ {
		pmask := 1 - sch.Alpha(float64(t[b]))
		for i := b * L; i < (b+1)*L; i++ {
			out.Masked[i] = 0
			if x0[i] != v.Pad && rng.Float64() < pmask {
				out.Masked[i] = 1
			}
		}
	}
	corrupt(v, sch, x0, t, out)
	return nil
}

// Corrupt is Forward with the masks given (1 where masked, B x L), as
// shared/reference/torch_ref.py's loss takes them: a given mask is honoured
// in z_t even at a PAD position, which never carries loss.
func Corrupt(v vocab.Vocab, sch Schedule, x0 []int32, B, L int, t []float32, masked []uint8, out *Batch) error {
	if err := checkForward(v, x0, B, L, t); err != nil {
		return err
	}
	if len(masked) != B*L {
		return fmt.Errorf("mdlm forward: %d mask flags for a %d x %d batch", len(masked), B, L)
	}
	out.resize(B, L, true)
	for i, m := range masked {
		out.Masked[i] = min(m, 1)
	}
	corrupt(v, sch, x0, t, out)
	return nil
}

func checkForward(v vocab.Vocab, x0 []int32, B, L int, t []float32) error {
	if err := v.Check(x0, B, L, true); err != nil {
		return fmt.Errorf("mdlm forward: %w", err)
	}
	if len(t) != B {
		return fmt.Errorf("mdlm forward: %d times for %d rows", len(t), B)
	}
	for b, tb := range t {
		if !(tb > 0 && tb <= 1) {
			return fmt.Errorf("mdlm forward: row %d: t = %g outside (0, 1]", b, tb)
		}
	}
	return nil
}

// corrupt fills out from x0, t and out.Masked: z_t, targets, the weights
// w(t) at masked non-PAD positions and Norm, the non-PAD tokens.
func corrupt(v vocab.Vocab, sch Schedule, x0 []int32, t []float32, out *Batch) {
	L := out.L
	copy(out.T, t)
	for b := 0; b < out.B; b++ {
		w := float32(sch.Weight(float64(t[b])))
		for i := b * L; i < (b+1)*L; i++ {
			x := x0[i]
			out.Targets[i], out.Input[i], out.Weights[i] = x, x, 0
			if out.Masked[i] != 0 {
				out.Input[i] = v.Mask
			}
			if x == v.Pad {
				continue
			}
			out.Norm++
			if out.Masked[i] != 0 {
				out.Weights[i] = w
			}
		}
	}
}

// MLMConfig is BERT's corruption: Rate of the non-PAD positions are chosen
// (each independently, as in BERT's and HuggingFace's collators); of those,
// MaskFrac become [MASK], RandomFrac a random samplable token and the rest
// stay unchanged.
type MLMConfig struct {
	Rate, MaskFrac, RandomFrac float64
}

// DefaultMLM is 15% chosen, 80% [MASK], 10% random, 10% unchanged.
var DefaultMLM = MLMConfig{Rate: 0.15, MaskFrac: 0.8, RandomFrac: 0.1}

// MLM applies BERT/Caduceus masking to x0 (B x L) and fills out: weights 1
// and Masked 1 at the chosen positions, Norm = the number of chosen
// positions (the loss is the mean cross-entropy over them), T nil.
func MLM(v vocab.Vocab, cfg MLMConfig, x0 []int32, B, L int, rng *rand.Rand, out *Batch) error {
	if err := v.Check(x0, B, L, true); err != nil {
		return fmt.Errorf("mlm: %w", err)
	}
	if cfg.Rate <= 0 || cfg.Rate > 1 || cfg.MaskFrac < 0 || cfg.RandomFrac < 0 || cfg.MaskFrac+cfg.RandomFrac > 1 {
		return fmt.Errorf("mlm: rate %g, mask %g, random %g are not probabilities", cfg.Rate, cfg.MaskFrac, cfg.RandomFrac)
	}
	ids := v.SamplableIDs()
	out.resize(B, L, false)
	for i, x := range x0 {
		out.Targets[i] = x
		out.Input[i] = x
		out.Weights[i] = 0
		out.Masked[i] = 0
		if x == v.Pad || rng.Float64() >= cfg.Rate {
			continue
		}
		out.Norm++
		out.Weights[i] = 1
		out.Masked[i] = 1
		switch u := rng.Float64(); {
		case u < cfg.MaskFrac:
			out.Input[i] = v.Mask
		case u < cfg.MaskFrac+cfg.RandomFrac:
			out.Input[i] = ids[rng.IntN(len(ids))]
		}
	}
	return nil
}

// Loss is the plain (unfused) weighted cross-entropy of logits (B*L*V,
// computed on Input) against the batch:
// sum_i Weights[i] * -log softmax(logits_i)[Targets[i]] / Norm, the logit
// of ban left out of the softmax (the vocabulary's [MASK] for MDLM's SUBS;
// -1 bans nothing, for MLM). It is the yardstick a fused kernel is checked
// against, and it equals shared/reference/torch_ref.py's mdlm_loss for the
// same t and mask. An empty batch gives 0.
func (b *Batch) Loss(logits []float32, V int, ban int32) (float64, error) {
	if V < 1 || len(logits) != b.B*b.L*V || len(b.Targets) != b.B*b.L {
		return 0, fmt.Errorf("loss: %d logits for a %d x %d batch of vocabulary %d", len(logits), b.B, b.L, V)
	}
	if b.Norm == 0 {
		return 0, nil
	}
	var sum float64
	for i, w := range b.Weights {
		if w == 0 {
			continue
		}
		lp := logProbOf(logits[i*V:(i+1)*V], int(b.Targets[i]), ban)
		if math.IsNaN(lp) {
			return 0, fmt.Errorf("loss: row %d position %d: NaN log-probability", i/b.L, i%b.L)
		}
		sum -= float64(w) * lp
	}
	return sum / float64(b.Norm), nil
}
