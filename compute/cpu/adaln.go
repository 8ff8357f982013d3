package cpu

import (
	"math"

	"github.com/seqdiff/seqdiff/compute"
)

// adaLN time conditioning (DiT, as MDLM's DDiT blocks use it): a SiLU for
// the time-embedding MLP, and the per-row modulation and gated residual of
// each block. The tensors they act on are small next to attention (the
// modulation is elementwise over (B,T,C); SiLU runs on (B,C)), so plain
// loops suffice.

// SiluForward: out (n) = inp * sigmoid(inp).
func (b *Backend) SiluForward(out, inp compute.F32, n int) {
	o, x := out.Host[:n], inp.Host[:n]
	for i, v := range x {
		o[i] = float32(float64(v) / (1 + math.Exp(-float64(v))))
	}
}

// SiluBackward: dinp (n) OVERWRITTEN = dout * s (1 + x (1 - s)), s = sigmoid(x); dinp may alias dout.
func (b *Backend) SiluBackward(dinp, inp, dout compute.F32, n int) {
	di, x, d := dinp.Host[:n], inp.Host[:n], dout.Host[:n]
	for i, v := range x {
		s := 1 / (1 + math.Exp(-float64(v)))
		di[i] = float32(float64(d[i]) * s * (1 + float64(v)*(1-s)))
	}
}

// ModulateForward: out (B,T,C) = inp (B,T,C) * (1 + scale[b]) + shift[b],
// shift and scale rows at b*S. out may alias inp.
func (b *Backend) ModulateForward(out, inp, shift, scale compute.F32, B, T, C, S int) {
	o, x, sh, sc := out.Host, inp.Host, shift.Host, scale.Host
	b.parallelRange(B*T, max(1, ewMinChunk/C), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			bb := r / T
			shr, scr := sh[bb*S:bb*S+C], sc[bb*S:bb*S+C]
			or, xr := o[r*C:(r+1)*C], x[r*C:(r+1)*C]
			for c, v := range xr {
				or[c] = v*(1+scr[c]) + shr[c]
			}
		}
	})
}

// ModulateBackward: dinp (B,T,C) OVERWRITTEN = dout * (1 + scale[b]) (may
// alias dout); dshift[b] += sum_t dout; dscale[b] += sum_t dout * inp.
// Work is split by (row b, column block), each summing over t in order,
// so the sums are deterministic and no two workers write the same value.
func (b *Backend) ModulateBackward(dinp, dshift, dscale, dout, inp, scale compute.F32, B, T, C, S int) {
	di, dsh, dsc, d, x, sc := dinp.Host, dshift.Host, dscale.Host, dout.Host, inp.Host, scale.Host
	const cb = 64
	nc := (C + cb - 1) / cb
	b.parallelItems(B*nc, func(_, item int) {
		bb, c0 := item/nc, (item%nc)*cb
		c1 := min(c0+cb, C)
		var gsh, gsc [cb]float32
		for t := 0; t < T; t++ {
			row := (bb*T + t) * C
			for c := c0; c < c1; c++ {
				g := d[row+c]
				gsh[c-c0] += g
				gsc[c-c0] += g * x[row+c]
				di[row+c] = g * (1 + sc[bb*S+c])
			}
		}
		for c := c0; c < c1; c++ {
			dsh[bb*S+c] += gsh[c-c0]
			dsc[bb*S+c] += gsc[c-c0]
		}
	})
}

// GateForward: out (B,T,C) = res + gate[b] * y, gate rows at b*S; out may alias res.
func (b *Backend) GateForward(out, res, y, gate compute.F32, B, T, C, S int) {
	o, rs, yy, g := out.Host, res.Host, y.Host, gate.Host
	b.parallelRange(B*T, max(1, ewMinChunk/C), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			bb := r / T
			gr := g[bb*S : bb*S+C]
			or, rr, yr := o[r*C:(r+1)*C], rs[r*C:(r+1)*C], yy[r*C:(r+1)*C]
			for c := range or {
				or[c] = rr[c] + gr[c]*yr[c]
			}
		}
	})
}

// GateBackward: dy (B,T,C) OVERWRITTEN = dout * gate[b]; dgate[b] += sum_t dout * y.
func (b *Backend) GateBackward(dy, dgate, dout, y, gate compute.F32, B, T, C, S int) {
	dyy, dg, d, yy, g := dy.Host, dgate.Host, dout.Host, y.Host, gate.Host
	const cb = 64
	nc := (C + cb - 1) / cb
	b.parallelItems(B*nc, func(_, item int) {
		bb, c0 := item/nc, (item%nc)*cb
		c1 := min(c0+cb, C)
		var gg [cb]float32
		for t := 0; t < T; t++ {
			row := (bb*T + t) * C
			for c := c0; c < c1; c++ {
				gv := d[row+c]
				gg[c-c0] += gv * yy[row+c]
				dyy[row+c] = gv * g[bb*S+c]
			}
		}
		for c := c0; c < c1; c++ {
			dg[bb*S+c] += gg[c-c0]
		}
	})
}
