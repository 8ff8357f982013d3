package cpu

import "github.com/seqdiff/seqdiff/compute"

const (
	// Rows per goroutine below which splitting a product costs more than it gains.
	mmMinRows = 64
	// Rows per sgemm call inside a goroutine's range: the bias add (forward)
	// and the bias-gradient sum (backward) then touch rows still in L2.
	mmBlockRows = 256
)

// MatmulForward: out (N,OC) = inp (N,IC) . w (OC,IC)^T + bias (OC, optional).
// Threads own row blocks of out; each makes single-threaded sgemm calls.
func (b *Backend) MatmulForward(out, inp, w, bias compute.F32, N, IC, OC int) {
	o, x, wt := out.Host, inp.Host, w.Host
	b.parallelRange(N, mmMinRows, func(lo, hi int) {
		for r0 := lo; r0 < hi; r0 += mmBlockRows {
			r1 := min(r0+mmBlockRows, hi)
			b.blas.sgemm(false, true, r1-r0, OC, IC, 1, x[r0*IC:], IC, wt, IC, 0, o[r0*OC:], OC)
			if bias.N > 0 {
				bs := bias.Host[:OC]
				for n := r0; n < r1; n++ {
					acc(o[n*OC:(n+1)*OC], bs)
				}
			}
		}
	})
}

// MatmulBackward: dinp (N,IC) += dout (N,OC) . w (OC,IC) (optional),
// dw (OC,IC) += dout^T . inp, dbias (OC) += sum_n dout (optional).
// dinp rows and dw rows (or columns) are each owned by one goroutine with
// the sum over n inside one sgemm; dbias is summed per fixed row chunk,
// then the chunks in order. So results do not depend on scheduling.
func (b *Backend) MatmulBackward(dinp, dw, dbias, dout, inp, w compute.F32, N, IC, OC int) {
	d, x := dout.Host, inp.Host
	if dinp.N > 0 || dbias.N > 0 {
		k := b.chunks(N, mmMinRows)
		var part []float32
		if dbias.N > 0 {
			part = b.partialBuf(k * OC)
		}
		b.parallelChunks(N, mmMinRows, func(c, lo, hi int) {
			for r0 := lo; r0 < hi; r0 += mmBlockRows {
				r1 := min(r0+mmBlockRows, hi)
				if dinp.N > 0 {
					b.blas.sgemm(false, false, r1-r0, IC, OC, 1, d[r0*OC:], OC, w.Host, IC, 1, dinp.Host[r0*IC:], IC)
				}
				if part != nil {
					pc := part[c*OC : (c+1)*OC]
					for n := r0; n < r1; n++ {
						acc(pc, d[n*OC:(n+1)*OC])
					}
				}
			}
		})
		for c := 0; c < k && part != nil; c++ {
			acc(dbias.Host[:OC], part[c*OC:(c+1)*OC])
		}
	}
	if dw.N > 0 {
		g := dw.Host
		// One chunk per thread here: every call packs the whole (N, IC)
		// operand, so more, smaller calls would repeat that work.
		if OC >= IC || OC >= 4*b.threads {
			b.parallelRange(OC, (OC+b.threads-1)/b.threads, func(lo, hi int) {
				b.blas.sgemm(true, false, hi-lo, IC, N, 1, d[lo:], OC, x, IC, 1, g[lo*IC:], IC)
			})
		} else {
			b.parallelRange(IC, (IC+b.threads-1)/b.threads, func(lo, hi int) {
				b.blas.sgemm(true, false, OC, hi-lo, N, 1, d, OC, x[lo:], IC, 1, g[lo:], IC)
			})
		}
	}
}
