package nn

import (
	"fmt"

	"github.com/seqdiff/seqdiff/compute"
)

// Decoder runs a causal Model one position at a time for B rows with a
// key/value cache: each block keeps the rotated keys and the values of
// every position fed so far, so a step costs O(position) attention instead
// of a full forward pass. It implements ar.StepModel. Its logits equal
// those of the full causal Forward at the same position (to float32
// rounding; TestDecoderMatchesForward).
type Decoder struct {
	m    *Model
	B    int
	Tmax int
	pos  int

	buf    compute.F32
	tok    compute.I32
	kc, vc []compute.F32 // per block (B,Tmax,C)
	x, res compute.F32   // (B,C) residual stream
	ln     compute.F32   // (B,C)
	mean   compute.F32   // (B)
	rstd   compute.F32   // (B)
	qkv    compute.F32   // (B,3C)
	atty   compute.F32   // (B,C)
	fc     compute.F32   // (B,4C)
	gelu   compute.F32   // (B,4C)
	logits compute.F32   // (B,V)
}

// NewDecoder returns a decoder for m (which keeps its weights; load the EMA
// into m first to decode with it) over at most m.Cfg.SeqLen positions.
func NewDecoder(m *Model) *Decoder { return &Decoder{m: m, Tmax: m.Cfg.SeqLen} }

// Capacity is the number of positions the cache holds (seq_len): past it,
// ar.Sampler slides its window (ar.Bounded).
func (d *Decoder) Capacity() int { return d.Tmax }

// Pos is the number of positions fed since Reset.
func (d *Decoder) Pos() int { return d.pos }

// Free releases the cache.
func (d *Decoder) Free() {
	if d.buf.N != 0 {
		d.m.be.Free(d.buf)
		d.m.be.FreeI32(d.tok)
	}
	d.buf, d.tok = compute.F32{}, compute.I32{}
}

// Reset starts B empty rows, (re)allocating the cache when B changes.
func (d *Decoder) Reset(B int) error {
	if B < 1 {
		return fmt.Errorf("decoder: batch %d", B)
	}
	d.pos = 0
	if d.B == B && d.buf.N != 0 {
		return nil
	}
	d.Free()
	d.B = B
	be, c := d.m.be, d.m.Cfg
	C, V, L := c.DModel, c.VocabSize, c.NLayers
	sizes := []int{B * C, B * C, B * C, B, B, 3 * B * C, B * C, 4 * B * C, 4 * B * C, B * V}
	total := 2 * L * B * d.Tmax * C
	for _, n := range sizes {
		total += n
	}
	d.buf = be.Alloc(total)
	d.tok = be.AllocI32(B)
	off := 0
	take := func(n int) compute.F32 { s := d.buf.Slice(off, n); off += n; return s }
	d.kc, d.vc = make([]compute.F32, L), make([]compute.F32, L)
	for l := range L {
		d.kc[l], d.vc[l] = take(B*d.Tmax*C), take(B*d.Tmax*C)
	}
	for i, p := range []*compute.F32{&d.x, &d.res, &d.ln, &d.mean, &d.rstd, &d.qkv, &d.atty, &d.fc, &d.gelu, &d.logits} {
		*p = take(sizes[i])
	}
	return nil
}

// Prefill feeds P tokens per row (tokens is B x P, row-major) into the
// empty cache at once: one causal forward pass of the model, whose rotated
// keys and values fill positions 0..P-1, instead of P steps. out (B*V)
// gets the logits of the next token of every row, as the last Step would
// give (to float32 rounding). It uses the model's activation buffers.
func (d *Decoder) Prefill(tokens []int32, P int, out []float32) error {
	m, c := d.m, d.m.Cfg
	B, C, V := d.B, c.DModel, c.VocabSize
	switch {
	case d.buf.N == 0:
		return fmt.Errorf("decoder: Reset first")
	case d.pos != 0:
		return fmt.Errorf("decoder: prefill needs an empty cache (position %d)", d.pos)
	case P < 1 || P > d.Tmax:
		return fmt.Errorf("decoder: prefill of %d positions outside 1..%d", P, d.Tmax)
	case len(tokens) != B*P:
		return fmt.Errorf("decoder: %d tokens for %d rows of %d", len(tokens), B, P)
	case len(out) != B*V:
		return fmt.Errorf("decoder: output holds %d values, want %d", len(out), B*V)
	}
	if err := m.Forward(tokens, nil, B, P, true); err != nil {
		return fmt.Errorf("decoder: prefill: %w", err)
	}
	be := m.be
	for l := range d.kc {
		qkv := m.acts.blocks[l].qkv // (B*P, 3C), rotary applied to q and k
		for b := range B {
			for t := range P {
				row := (b*P + t) * 3 * C
				be.Copy(d.kc[l].Slice((b*d.Tmax+t)*C, C), qkv.Slice(row+C, C))
				be.Copy(d.vc[l].Slice((b*d.Tmax+t)*C, C), qkv.Slice(row+2*C, C))
			}
		}
	}
	logits := m.Logits() // (B*P, V)
	for b := range B {
		be.Download(out[b*V:(b+1)*V], logits.Slice((b*P+P-1)*V, V))
	}
	d.pos = P
	return be.Sync()
}

// Step appends one token per row (tokens has B ids) at position Pos and
// writes the logits of the next token of every row into out (B*V).
func (d *Decoder) Step(tokens []int32, out []float32) error {
	m, c := d.m, d.m.Cfg
	B, C, H, V := d.B, c.DModel, c.NHeads, c.VocabSize
	switch {
	case d.buf.N == 0:
		return fmt.Errorf("decoder: Reset first")
	case len(tokens) != B:
		return fmt.Errorf("decoder: %d tokens for %d rows", len(tokens), B)
	case len(out) != B*V:
		return fmt.Errorf("decoder: output holds %d values, want %d", len(out), B*V)
	case d.pos >= d.Tmax:
		return fmt.Errorf("decoder: position %d reaches the model's seq_len %d", d.pos, d.Tmax)
	}
	for i, id := range tokens {
		if id < 0 || int(id) >= V {
			return fmt.Errorf("decoder: token %d of row %d outside vocabulary [0,%d)", id, i, V)
		}
	}
	be, p, none, pos := m.be, m.p, compute.F32{}, d.pos
	be.UploadI32(d.tok, tokens)
	be.EmbeddingForward(d.x, d.tok, p.embed, B, C)
	for l, w := range p.blocks {
		// attention branch: res = x + out(Attn(rope(ln1(x)))) over the cache
		be.LayerNormForward(d.ln, d.mean, d.rstd, d.x, w.ln1w, w.ln1b, B, C)
		be.MatmulForward(d.qkv, d.ln, w.qkvw, none, B, C, 3*C)
		be.RotaryForward(d.qkv, B, 1, C, H, pos)
		for b := range B {
			be.Copy(d.kc[l].Slice((b*d.Tmax+pos)*C, C), d.qkv.Slice(b*3*C+C, C))
			be.Copy(d.vc[l].Slice((b*d.Tmax+pos)*C, C), d.qkv.Slice(b*3*C+2*C, C))
		}
		be.AttentionDecode(d.atty, d.qkv, d.kc[l], d.vc[l], B, pos+1, d.Tmax, C, H)
		be.MatmulForward(d.res, d.atty, w.outw, none, B, C, C)
		be.Accumulate(d.res, d.x, B*C)
		// MLP branch: x = res + fc2(gelu(fc1(ln2(res))))
		be.LayerNormForward(d.ln, d.mean, d.rstd, d.res, w.ln2w, w.ln2b, B, C)
		be.MatmulForward(d.fc, d.ln, w.fc1w, w.fc1b, B, C, 4*C)
		be.GeluForward(d.gelu, d.fc, B*4*C)
		be.MatmulForward(d.x, d.gelu, w.fc2w, w.fc2b, B, 4*C, C)
		be.Accumulate(d.x, d.res, B*C)
	}
	be.LayerNormForward(d.ln, d.mean, d.rstd, d.x, p.lnfw, p.lnfb, B, C)
	be.MatmulForward(d.logits, d.ln, p.headw, p.headb, B, C, V)
	be.Download(out, d.logits)
	d.pos++
	return be.Sync()
}
