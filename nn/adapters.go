package nn

import (
	"fmt"

	"github.com/seqdiff/seqdiff/compute"
)

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

// LogitsAt runs the forward pass on z (B x L) at times t and writes the
// logits of the positions pos (indices into the B*L grid) into out
// (len(pos) x V): the rows are gathered on the backend, so only they cross
// to the host. With no position the forward pass still runs (a ddpm step
// calls the model whatever it reveals).
func (d Denoiser) LogitsAt(z []int32, B, L int, t []float32, pos []int32, out []float32) error {
	m := d.M
	V := m.Cfg.VocabSize
	if len(out) != len(pos)*V {
		return fmt.Errorf("denoiser: output holds %d values, want %d", len(out), len(pos)*V)
	}
	g, err := d.gather(z, B, L, t, pos)
	if err != nil || len(pos) == 0 {
		return err
	}
	defer m.be.Free(g)
	m.be.Download(out, g)
	return m.be.Sync()
}

// LogProbsAt runs the forward pass on z (B x L) at times t and writes, for
// each position pos[j], log softmax(logits)[targets[j]] with the [MASK]
// logit banned (SUBS) into out[j]: the log-softmax runs on the backend
// (its fused cross-entropy), so one value per position crosses, not V.
func (d Denoiser) LogProbsAt(z []int32, B, L int, t []float32, pos, targets []int32, out []float64) error {
	m := d.M
	n := len(pos)
	if len(targets) != n || len(out) != n {
		return fmt.Errorf("denoiser: %d positions, %d targets, %d outputs", n, len(targets), len(out))
	}
	g, err := d.gather(z, B, L, t, pos)
	if err != nil || n == 0 {
		return err
	}
	be := m.be
	defer be.Free(g)
	tg := be.AllocI32(n)
	defer be.FreeI32(tg)
	be.UploadI32(tg, targets)
	losses := be.Alloc(n)
	defer be.Free(losses)
	be.CrossEntropy(losses, g, tg, compute.F32{}, n, m.Cfg.VocabSize, -1, m.Cfg.MaskID, false, 1)
	host := make([]float32, n)
	be.Download(host, losses)
	if err := be.Sync(); err != nil {
		return err
	}
	for j, l := range host {
		out[j] = -float64(l)
	}
	return nil
}

// gather runs the forward pass and returns a new device buffer holding the
// logits rows of pos (nothing when pos is empty); the caller frees it.
func (d Denoiser) gather(z []int32, B, L int, t []float32, pos []int32) (compute.F32, error) {
	m := d.M
	if !m.Cfg.TimeConditioning {
		t = nil
	}
	for j, p := range pos {
		if p < 0 || int(p) >= B*L {
			return compute.F32{}, fmt.Errorf("denoiser: position %d (entry %d) outside the %d x %d grid", p, j, B, L)
		}
	}
	if err := m.ForwardTime(z, nil, t, B, L, false); err != nil {
		return compute.F32{}, err
	}
	if len(pos) == 0 {
		return compute.F32{}, m.be.Sync()
	}
	V := m.Cfg.VocabSize
	be := m.be
	idx := be.AllocI32(len(pos))
	defer be.FreeI32(idx)
	be.UploadI32(idx, pos)
	g := be.Alloc(len(pos) * V)
	// The embedding gather: row pos[j] of the (B*L, V) logits table.
	be.EmbeddingForward(g, idx, m.Logits(), len(pos), V)
	return g, nil
}
