package cpu

import (
	"math"

	"github.com/seqdiff/seqdiff/compute"
)

// ropeTable caches cos/sin (positions, hd/2) for one head dim. The angles
// are computed in float32 the way PyTorch does in the reference
// (inv = 1/10000^(2i/hd), angle = float32(t)*inv), so logits agree closely
// even at long positions.
type ropeTable struct {
	hd       int
	cos, sin []float32
}

func (r *ropeTable) ensure(hd, npos int) {
	half := hd / 2
	if r.hd == hd && len(r.cos) >= npos*half {
		return
	}
	if r.hd != hd {
		r.cos, r.sin = nil, nil
	}
	start := len(r.cos) / max(half, 1)
	r.hd = hd
	inv := make([]float32, half)
	for i := range inv {
		e := float32(2*i) / float32(hd)
		inv[i] = 1 / float32(math.Pow(10000, float64(e)))
	}
	for t := start; t < npos; t++ {
		for i := 0; i < half; i++ {
			a := float64(float32(t) * inv[i])
			r.cos = append(r.cos, float32(math.Cos(a)))
			r.sin = append(r.sin, float32(math.Sin(a)))
		}
	}
}

// RotaryForward rotates the q and k thirds of qkv (B,T,3C) in place,
// rotate-half convention over the whole head dim hd = C/H, base 10000;
// row t has position t+pos0: for i < hd/2,
// (x1, x2) = (x[i], x[i+hd/2]) -> (x1 cos - x2 sin, x2 cos + x1 sin).
func (b *Backend) RotaryForward(qkv compute.F32, B, T, C, H, pos0 int) {
	b.rotary(qkv, B, T, C, H, pos0, 1)
}

// RotaryBackward applies the inverse rotation (sin -> -sin) to the q and k
// thirds of dqkv (B,T,3C) in place.
func (b *Backend) RotaryBackward(dqkv compute.F32, B, T, C, H, pos0 int) {
	b.rotary(dqkv, B, T, C, H, pos0, -1)
}

func (b *Backend) rotary(qkv compute.F32, B, T, C, H, pos0 int, sign float32) {
	hd := C / H
	half := hd / 2
	b.rope.ensure(hd, pos0+T)
	cs, sn, x := b.rope.cos, b.rope.sin, qkv.Host
	b.parallelRange(B*T, 64, func(lo, hi int) {
		for row := lo; row < hi; row++ {
			t := row%T + pos0
			c := cs[t*half : (t+1)*half]
			s := sn[t*half : (t+1)*half]
			base := row * 3 * C
			for part := 0; part < 2; part++ { // q then k
				for h := 0; h < H; h++ {
					rotateHalf(x[base+part*C+h*hd:base+part*C+(h+1)*hd], c, s, sign)
				}
			}
		}
	})
}
