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

// PositionLogits is a Denoiser that can return the logits of chosen
// positions only, so the others never leave the backend (nn.Denoiser: a
// gather on the device). The samplers use it where they need few rows.
type PositionLogits interface {
	// LogitsAt writes the logits of z's positions pos (indices into its
	// B*L grid) into out (len(pos) x V); with no position the model still
	// runs.
	LogitsAt(z []int32, B, L int, t []float32, pos []int32, out []float32) error
}

// PositionLogProbs is a Denoiser that computes log p(target) itself
// (nn.Denoiser: the backend's fused cross-entropy), one value per position.
// The NELBO evaluator uses it.
type PositionLogProbs interface {
	// LogProbsAt writes log softmax(logits)[targets[j]] over the
	// vocabulary without [MASK] at z's positions pos into out.
	LogProbsAt(z []int32, B, L int, t []float32, pos, targets []int32, out []float64) error
}

// logitsAt fills out (len(pos) x V) with the logits of z's positions pos:
// from the denoiser's LogitsAt when it has one, else from its full logits
// (into *full, grown as needed).
func logitsAt(d Denoiser, z []int32, B, L, V int, t []float32, pos []int32, out []float32, full *[]float32) error {
	if pd, ok := d.(PositionLogits); ok {
		return pd.LogitsAt(z, B, L, t, pos, out)
	}
	*full = grow(*full, B*L*V)
	if err := d.Logits(z, B, L, t, *full); err != nil {
		return err
	}
	for j, p := range pos {
		copy(out[j*V:(j+1)*V], (*full)[int(p)*V:(int(p)+1)*V])
	}
	return nil
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
