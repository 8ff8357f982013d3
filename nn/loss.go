package nn

// IgnoreTarget is the target id of rows that carry no loss.
const IgnoreTarget = -100

// LossInputs are what CrossEntropy needs for one batch of an objective:
// the model input, per-row targets and weights, and the normaliser.
// Objective builds them; docs/design.md, "Objectives", has the math.
type LossInputs struct {
	Input   []int32   // (B,T) model input
	Targets []int32   // (B,T); Ignore where no loss
	Weights []float32 // (B,T) or nil (all 1)
	B, T    int
	Ignore  int
	Banned  int     // class whose logit is -inf, or -1
	Norm    float64 // divide the summed loss by this (0: nothing to learn from, skip)
	Causal  bool
	// Time (B) is each row's diffusion time t for a time-conditioned MDLM
	// (nil otherwise; a model without time conditioning ignores it).
	Time []float32
}

// Rows is rows start .. start+n-1 of li, sharing its buffers, with li's
// Norm: the micro-batch of a gradient-accumulation step, whose losses and
// gradients summed over the step's micro-batches are those of li whole.
func (li LossInputs) Rows(start, n int) LossInputs {
	lo, hi := start*li.T, (start+n)*li.T
	li.Input, li.Targets = li.Input[lo:hi], li.Targets[lo:hi]
	if li.Weights != nil {
		li.Weights = li.Weights[lo:hi]
	}
	if li.Time != nil {
		li.Time = li.Time[start : start+n]
	}
	li.B = n
	return li
}

// Loss runs Forward and CrossEntropy for li (keyMask optional), with the
// logits' gradient left for Backward when backward is set.
func (m *Model) Loss(li LossInputs, keyMask []int32, backward bool) (float64, error) {
	if err := m.ForwardTime(li.Input, keyMask, li.Time, li.B, li.T, li.Causal); err != nil {
		return 0, err
	}
	return m.CrossEntropy(li.Targets, li.Weights, li.Ignore, li.Banned, li.Norm, backward)
}
