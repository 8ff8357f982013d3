package nn

import "fmt"

// Denoiser adapts a bidirectional Model to mdlm.Denoiser: Logits runs a
// forward pass on the noised tokens and copies the (B*L, V) logits out.
// The backbone has no time conditioning, so t is ignored (and ddpm_cache
// may reuse logits).
type Denoiser struct{ M *Model }

// Logits writes the model's logits for z (B x L) into out (B*L*V).
func (d Denoiser) Logits(z []int32, B, L int, _ []float32, out []float32) error {
	m := d.M
	if want := B * L * m.Cfg.VocabSize; len(out) != want {
		return fmt.Errorf("denoiser: output holds %d values, want %d", len(out), want)
	}
	if err := m.Forward(z, nil, B, L, false); err != nil {
		return err
	}
	m.be.Download(out, m.Logits())
	return m.be.Sync()
}
