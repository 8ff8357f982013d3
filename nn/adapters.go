package nn

import "fmt"

// Denoiser adapts a bidirectional Model to mdlm.Denoiser: Logits runs a
// forward pass on the noised tokens at their times and copies the (B*L, V)
// logits out. A backbone without time conditioning ignores t, and
// ddpm_cache may then reuse logits (TimeConditioned).
type Denoiser struct{ M *Model }

// TimeConditioned reports whether the model's output depends on t.
func (d Denoiser) TimeConditioned() bool { return d.M.Cfg.TimeConditioning }

// Logits writes the model's logits for z (B x L) into out (B*L*V).
func (d Denoiser) Logits(z []int32, B, L int, t []float32, out []float32) error {
	m := d.M
	if want := B * L * m.Cfg.VocabSize; len(out) != want {
		return fmt.Errorf("denoiser: output holds %d values, want %d", len(out), want)
	}
	if !m.Cfg.TimeConditioning {
		t = nil
	}
	if err := m.ForwardTime(z, nil, t, B, L, false); err != nil {
		return err
	}
	m.be.Download(out, m.Logits())
	return m.be.Sync()
}
