package nn

import (
	"math/rand/v2"
)

// IgnoreTarget is the target id of rows that carry no loss.
const IgnoreTarget = -100

// LossInputs are what CrossEntropy needs for one batch of an objective:
// the model input, per-row targets and weights, and the normaliser.
type LossInputs struct {
	Input   []int32   // (B,T) model input
	Targets []int32   // (B,T); IgnoreTarget where no loss
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

// MDLMEps is the log-linear schedule's eps: alpha(t) = 1 - (1 - eps) t.
const MDLMEps = 1e-3

// MDLMSample draws antithetic times t_b = eps + (1-eps)((u + b/B) mod 1)
// and masks each non-PAD token of x0 (B,T) independently with probability
// 1 - alpha(t_b) = (1 - eps) t_b. masked is 1 where masked.
func MDLMSample(rng *rand.Rand, x0 []int32, B, T, padID int) (t []float32, masked []uint8) {
	t = make([]float32, B)
	u := rng.Float64()
	for b := range t {
		f := u + float64(b)/float64(B)
		f -= float64(int(f))
		t[b] = float32(MDLMEps + (1-MDLMEps)*f)
	}
	masked = make([]uint8, B*T)
	for b := 0; b < B; b++ {
		p := (1 - MDLMEps) * float64(t[b])
		for i := b * T; i < (b+1)*T; i++ {
			if int(x0[i]) != padID && rng.Float64() < p {
				masked[i] = 1
			}
		}
	}
	return t, masked
}

// MDLMInputs builds the MDLM (SUBS, continuous time, log-linear schedule)
// loss inputs for clean tokens x0 (B,T), per-row times t (B) and a mask
// (B,T): z_t has [MASK] at masked positions; the loss is
// sum over masked non-PAD positions of (1/t_b) * -log p(x0 | z_t), with [MASK] banned, over
// the number of non-PAD tokens.
func MDLMInputs(x0 []int32, B, T int, t []float32, masked []uint8, maskID, padID int) LossInputs {
	li := LossInputs{Input: make([]int32, B*T), Targets: make([]int32, B*T), Weights: make([]float32, B*T),
		B: B, T: T, Ignore: IgnoreTarget, Banned: maskID}
	nonPad := 0
	for b := 0; b < B; b++ {
		w := 1 / t[b]
		for i := b * T; i < (b+1)*T; i++ {
			x := x0[i]
			li.Input[i], li.Targets[i] = x, IgnoreTarget
			if masked[i] != 0 {
				// The mask is honoured as given (MDLMSample never masks PAD),
				// but a PAD position never carries loss.
				li.Input[i] = int32(maskID)
			}
			if int(x) == padID {
				continue
			}
			nonPad++
			if masked[i] != 0 {
				li.Targets[i] = x
				li.Weights[i] = w
			}
		}
	}
	li.Norm = float64(nonPad)
	li.Time = t
	return li
}

// ARInputs builds next-token loss inputs for x0 (B,L): the model reads
// x0[:, :L-1] causally and predicts x0[:, 1:], PAD targets dropped, the
// loss divided by the number of non-PAD targets.
func ARInputs(x0 []int32, B, L, padID int) LossInputs {
	T := L - 1
	li := LossInputs{Input: make([]int32, B*T), Targets: make([]int32, B*T), B: B, T: T,
		Ignore: padID, Banned: -1, Causal: true}
	n := 0
	for b := 0; b < B; b++ {
		copy(li.Input[b*T:(b+1)*T], x0[b*L:b*L+T])
		copy(li.Targets[b*T:(b+1)*T], x0[b*L+1:(b+1)*L])
	}
	for _, y := range li.Targets {
		if int(y) != padID {
			n++
		}
	}
	li.Norm = float64(n)
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
