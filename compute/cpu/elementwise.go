package cpu

import (
	"math"

	"github.com/seqdiff/seqdiff/compute"
)

// Elements per goroutine below which splitting does not pay.
const ewMinChunk = 1 << 14

// GeluForward (tanh approximation): out (n) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), x = inp (n).
func (b *Backend) GeluForward(out, inp compute.F32, n int) {
	o, x := out.Host, inp.Host
	b.parallelRange(n, ewMinChunk, func(lo, hi int) { geluFwd(o[lo:hi], x[lo:hi]) })
}

// GeluBackward: dinp (n) OVERWRITTEN = dout (n) * gelu'(inp (n)); dinp may alias dout.
func (b *Backend) GeluBackward(dinp, inp, dout compute.F32, n int) {
	di, x, d := dinp.Host, inp.Host, dout.Host
	b.parallelRange(n, ewMinChunk, func(lo, hi int) { geluBwd(di[lo:hi], x[lo:hi], d[lo:hi]) })
}

// Add: out (n) = a (n) + b (n). out may alias a or b.
func (b *Backend) Add(out, a, c compute.F32, n int) {
	o, x, y := out.Host, a.Host, c.Host
	b.parallelRange(n, ewMinChunk, func(lo, hi int) {
		oo, xx, yy := o[lo:hi], x[lo:hi], y[lo:hi]
		for i := range oo {
			oo[i] = xx[i] + yy[i]
		}
	})
}

// Accumulate: dst (n) += src (n).
func (b *Backend) Accumulate(dst, src compute.F32, n int) {
	d, s := dst.Host, src.Host
	b.parallelRange(n, ewMinChunk, func(lo, hi int) { acc(d[lo:hi], s[lo:hi]) })
}

// Scale: x (n) *= s.
func (b *Backend) Scale(x compute.F32, n int, s float32) {
	h := x.Host
	b.parallelRange(n, ewMinChunk, func(lo, hi int) { scal(h[lo:hi], s) })
}

// AdamW with decoupled weight decay and bias correction at step t (1-based),
// params, grads, m, v (n):
// m = b1 m + (1-b1) g ; v = b2 v + (1-b2) g^2 ;
// p -= lr * ( (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps) + wd * p ).
func (b *Backend) AdamW(params, grads, m, v compute.F32, n int, lr, beta1, beta2, eps, wd float32, t int) {
	bc1 := float32(1 - math.Pow(float64(beta1), float64(t)))
	bc2 := float32(1 - math.Pow(float64(beta2), float64(t)))
	p, g, mm, vv := params.Host, grads.Host, m.Host, v.Host
	b.parallelRange(n, ewMinChunk, func(lo, hi int) {
		pp, gg, m1, v1 := p[lo:hi], g[lo:hi], mm[lo:hi], vv[lo:hi]
		for i := range pp {
			gi := gg[i]
			mi := beta1*m1[i] + (1-beta1)*gi
			vi := beta2*v1[i] + (1-beta2)*gi*gi
			m1[i], v1[i] = mi, vi
			mhat := mi / bc1
			vhat := vi / bc2
			pp[i] -= lr * (mhat/(float32(math.Sqrt(float64(vhat)))+eps) + wd*pp[i])
		}
	})
}

// SumSquares: sum of x (n)^2 in float64, per fixed chunk then chunks in
// order; NaN/Inf propagate.
func (b *Backend) SumSquares(x compute.F32, n int) float64 {
	k := b.chunks(n, ewMinChunk)
	if cap(b.partials64) < k {
		b.partials64 = make([]float64, k)
	}
	part := b.partials64[:k]
	h := x.Host
	b.parallelChunks(n, ewMinChunk, func(c, lo, hi int) {
		var s float64
		for _, v := range h[lo:hi] {
			s += float64(v) * float64(v)
		}
		part[c] = s
	})
	var s float64
	for _, v := range part {
		s += v
	}
	return s
}

// EMA: ema (n) = decay*ema + (1-decay)*params (n).
func (b *Backend) EMA(ema, params compute.F32, n int, decay float32) {
	e, p := ema.Host, params.Host
	b.parallelRange(n, ewMinChunk, func(lo, hi int) {
		ee, pp := e[lo:hi], p[lo:hi]
		for i := range ee {
			ee[i] = decay*ee[i] + (1-decay)*pp[i]
		}
	})
}

// MeanPoolForward: out (B,C) = mean over {t: mask[b,t]==1} of inp (B,T,C);
// mask (B,T) optional (all valid); a row with no valid position gives 0.
func (b *Backend) MeanPoolForward(out, inp compute.F32, mask compute.I32, B, T, C int) {
	o, x := out.Host, inp.Host
	b.parallelRange(B, 1, func(lo, hi int) {
		for bb := lo; bb < hi; bb++ {
			dst := o[bb*C : (bb+1)*C]
			clear(dst)
			cnt := 0
			for t := 0; t < T; t++ {
				if mask.N > 0 && mask.Host[bb*T+t] == 0 {
					continue
				}
				acc(dst, x[(bb*T+t)*C:(bb*T+t+1)*C])
				cnt++
			}
			if cnt > 0 {
				scal(dst, 1/float32(cnt))
			}
		}
	})
}

// MeanPoolBackward: dinp (B,T,C) += dout (B,C) / count at valid positions.
func (b *Backend) MeanPoolBackward(dinp, dout compute.F32, mask compute.I32, B, T, C int) {
	di, d := dinp.Host, dout.Host
	b.parallelRange(B, 1, func(lo, hi int) {
		for bb := lo; bb < hi; bb++ {
			cnt := T
			if mask.N > 0 {
				cnt = 0
				for _, v := range mask.Host[bb*T : (bb+1)*T] {
					if v != 0 {
						cnt++
					}
				}
			}
			if cnt == 0 {
				continue
			}
			inv := 1 / float32(cnt)
			src := d[bb*C : (bb+1)*C]
			for t := 0; t < T; t++ {
				if mask.N > 0 && mask.Host[bb*T+t] == 0 {
					continue
				}
				dst := di[(bb*T+t)*C : (bb*T+t+1)*C]
				for i, v := range src {
					dst[i] += v * inv
				}
			}
		}
	})
}
