package nn

import (
	"fmt"
	"math/rand/v2"

	"github.com/seqdiff/seqdiff/ar"
	"github.com/seqdiff/seqdiff/mdlm"
	"github.com/seqdiff/seqdiff/vocab"
)

// Objective turns clean rows into the LossInputs of one training mode. It
// only wraps packages mdlm (MDLM, MLM) and ar (AR), where the math lives
// (docs/design.md, "Objectives"): it is the one path from a batch to a
// loss, taken by the trainer and its evaluation, `seqdiff model loss` and
// `bench train`, the PyTorch parity test and the CUDA training test.
//
// The LossInputs it returns share the Objective's buffers: they hold until
// the next call.
type Objective struct {
	Mode  string
	Vocab vocab.Vocab
	// Schedule is MDLM's masking schedule, log-linear with mdlm.DefaultEps.
	Schedule mdlm.Schedule
	// TimeSampling is how Inputs draws MDLM's per-row times (default
	// mdlm.Stratified; the trainer sets its t_sampling).
	TimeSampling mdlm.TimeSampling
	t            []float32
	mb           mdlm.Batch
	ab           ar.Batch
}

// NewObjective is the objective of the model configuration c (its mode and
// vocabulary).
func NewObjective(c Config) *Objective {
	return &Objective{Mode: c.Mode, Vocab: c.Vocab(), Schedule: mdlm.LogLinear{Eps: mdlm.DefaultEps}, TimeSampling: mdlm.Stratified}
}

// Inputs corrupts clean rows x0 (B x L) by the objective with fresh draws
// from rng: MDLM's t (by TimeSampling) and masks, MLM's 15% corruption,
// AR's shift (which draws nothing; rng may be nil). A trainer accumulating
// gradients passes its whole effective batch here and runs the model on
// LossInputs.Rows of it, so that t is stratified over every row of the
// step and Norm counts them all.
func (o *Objective) Inputs(x0 []int32, B, L int, rng *rand.Rand) (LossInputs, error) {
	switch o.Mode {
	case ModeAR:
		return o.arInputs(x0, B, L)
	case ModeMLM:
		return o.mlmInputs(x0, B, L, rng)
	case ModeMDLM:
		o.t = grow(o.t, B)
		if err := mdlm.SampleT(rng, o.TimeSampling, mdlm.DefaultEps, o.t); err != nil {
			return LossInputs{}, fmt.Errorf("objective: %w", err)
		}
		if err := mdlm.Forward(o.Vocab, o.Schedule, x0, B, L, o.t, rng, &o.mb); err != nil {
			return LossInputs{}, err
		}
		return o.mdlmInputs(), nil
	}
	return LossInputs{}, fmt.Errorf("objective: mode %q: want mdlm, ar or mlm", o.Mode)
}

// Masked is MDLM's inputs for given per-row times t (B) and masks (B x L,
// 1 where masked), as shared/reference/torch_ref.py's loss takes them.
func (o *Objective) Masked(x0 []int32, B, L int, t []float32, masked []uint8) (LossInputs, error) {
	if o.Mode != ModeMDLM {
		return LossInputs{}, fmt.Errorf("objective: given times and masks are mdlm's, not %s's", o.Mode)
	}
	if err := mdlm.Corrupt(o.Vocab, o.Schedule, x0, B, L, t, masked, &o.mb); err != nil {
		return LossInputs{}, err
	}
	return o.mdlmInputs(), nil
}

// mdlmInputs: z_t in, x0 out at masked non-PAD positions weighted by w(t),
// [MASK] banned (SUBS), over the non-PAD tokens; t for time conditioning.
func (o *Objective) mdlmInputs() LossInputs {
	b := &o.mb
	return LossInputs{Input: b.Input, Targets: b.Targets, Weights: b.Weights, B: b.B, T: b.L,
		Ignore: IgnoreTarget, Banned: int(o.Vocab.Mask), Norm: float64(b.Norm), Time: b.T}
}

// mlmInputs: BERT corruption in, the chosen positions' x0 out, weight 1,
// over the chosen positions.
func (o *Objective) mlmInputs(x0 []int32, B, L int, rng *rand.Rand) (LossInputs, error) {
	if err := mdlm.MLM(o.Vocab, mdlm.DefaultMLM, x0, B, L, rng, &o.mb); err != nil {
		return LossInputs{}, err
	}
	b := &o.mb
	return LossInputs{Input: b.Input, Targets: b.Targets, Weights: b.Weights, B: B, T: L,
		Ignore: IgnoreTarget, Banned: -1, Norm: float64(b.Norm)}, nil
}

// arInputs: x0[:, :-1] in causally, x0[:, 1:] out, PAD targets weighted 0,
// over the non-PAD targets.
func (o *Objective) arInputs(x0 []int32, B, L int) (LossInputs, error) {
	if err := ar.Shift(o.Vocab, x0, B, L, &o.ab); err != nil {
		return LossInputs{}, err
	}
	b := &o.ab
	return LossInputs{Input: b.Inputs, Targets: b.Targets, Weights: b.Weights, B: B, T: b.L,
		Ignore: IgnoreTarget, Banned: -1, Norm: float64(b.Norm), Causal: true}, nil
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
