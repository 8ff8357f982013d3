package mdlm

import "math"

// Denoiser is the model MDLM evaluation and sampling run on: given noised
// tokens z (B x L, row-major) and the time of each row, it writes the
// unnormalised log-probabilities of the clean token at every position into
// out (B*L*V, row-major over (b, i, v), V the vocabulary size). The
// callers ban [MASK] themselves (SUBS), so the model's [MASK] logit is
// ignored. A model without time conditioning ignores t.
type Denoiser interface {
	Logits(z []int32, B, L int, t []float32, out []float32) error
}

// TimeConditioned is implemented by a Denoiser whose output depends on t
// (MDLM's time_conditioning). ddpm_cache may reuse logits only for models
// that do not implement it or return false.
type TimeConditioned interface {
	TimeConditioned() bool
}

func isTimeConditioned(d Denoiser) bool {
	tc, ok := d.(TimeConditioned)
	return ok && tc.TimeConditioned()
}

// logProbOf is log softmax(logits)[target] with the [MASK] logit banned,
// computed in float64.
func logProbOf(logits []float32, target int, mask int32) float64 {
	mx := math.Inf(-1)
	for v, l := range logits {
		if int32(v) != mask && float64(l) > mx {
			mx = float64(l)
		}
	}
	var s float64
	for v, l := range logits {
		if int32(v) != mask {
			s += math.Exp(float64(l) - mx)
		}
	}
	return float64(logits[target]) - mx - math.Log(s)
}
