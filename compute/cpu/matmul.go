package cpu

import "github.com/seqdiff/seqdiff/compute"

// Rows per goroutine below which splitting a product costs more than it gains.
const mmMinRows = 64

// MatmulForward: out (N,OC) = inp (N,IC) . w (OC,IC)^T + bias (OC, optional).
// Threads own row blocks of out; each calls a single-threaded sgemm.
func (b *Backend) MatmulForward(out, inp, w, bias compute.F32, N, IC, OC int) {
	o, x, wt := out.Host, inp.Host, w.Host
	b.parallelRange(N, mmMinRows, func(lo, hi int) {
		b.blas.sgemm(false, true, hi-lo, OC, IC, 1, x[lo*IC:], IC, wt, IC, 0, o[lo*OC:], OC)
		if bias.N > 0 {
			bs := bias.Host[:OC]
			for n := lo; n < hi; n++ {
				row := o[n*OC : (n+1)*OC]
				for i, v := range bs {
					row[i] += v
				}
			}
		}
	})
}

// MatmulBackward: dinp (N,IC) += dout (N,OC) . w (OC,IC) (optional),
// dw (OC,IC) += dout^T . inp, dbias (OC) += sum_n dout (optional).
// Every output element is owned by one goroutine and summed over n in a
// fixed order, so results do not depend on scheduling.
func (b *Backend) MatmulBackward(dinp, dw, dbias, dout, inp, w compute.F32, N, IC, OC int) {
	d, x := dout.Host, inp.Host
	if dinp.N > 0 {
		di, wt := dinp.Host, w.Host
		b.parallelRange(N, mmMinRows, func(lo, hi int) {
			b.blas.sgemm(false, false, hi-lo, IC, OC, 1, d[lo*OC:], OC, wt, IC, 1, di[lo*IC:], IC)
		})
	}
	if dw.N > 0 {
		g := dw.Host
		if OC >= IC || OC >= 4*b.threads {
			b.parallelRange(OC, 8, func(lo, hi int) {
				b.blas.sgemm(true, false, hi-lo, IC, N, 1, d[lo:], OC, x, IC, 1, g[lo*IC:], IC)
			})
		} else {
			b.parallelRange(IC, 8, func(lo, hi int) {
				b.blas.sgemm(true, false, OC, hi-lo, N, 1, d, OC, x[lo:], IC, 1, g[lo:], IC)
			})
		}
	}
	if dbias.N > 0 {
		db := dbias.Host
		b.parallelRange(OC, 8, func(lo, hi int) {
			dst := db[lo:hi]
			for n := 0; n < N; n++ {
				acc(dst, d[n*OC+lo:n*OC+hi])
			}
		})
	}
}
