package cpu

import "github.com/seqdiff/seqdiff/compute"

const lnEps = 1e-5

// LayerNormForward over the last dim, eps 1e-5, biased variance (as PyTorch).
// out (N,C), mean (N), rstd (N) <- inp (N,C), w (C), b (C).
// mean and rstd may be absent (inference).
func (b *Backend) LayerNormForward(out, mean, rstd, inp, w, bias compute.F32, N, C int) {
	o, x, wt, bs := out.Host, inp.Host, w.Host[:C], bias.Host[:C]
	b.parallelRange(N, 64, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			m, r := lnRowFwd(o[n*C:(n+1)*C], x[n*C:(n+1)*C], wt, bs)
			if mean.N > 0 {
				mean.Host[n] = m
			}
			if rstd.N > 0 {
				rstd.Host[n] = r
			}
		}
	})
}

// LayerNormBackward: dinp (N,C) +=, dw (C) +=, db (C) += <- dout (N,C), inp, w, mean, rstd.
// dw and db are summed per fixed row chunk, then the chunks in order.
func (b *Backend) LayerNormBackward(dinp, dw, db, dout, inp, w, mean, rstd compute.F32, N, C int) {
	k := b.chunks(N, 64)
	part := b.partialBuf(k * 2 * C)
	x, d, wt, mu, rs := inp.Host, dout.Host, w.Host[:C], mean.Host, rstd.Host
	b.parallelChunks(N, 64, func(c, lo, hi int) {
		pdw := part[c*2*C : c*2*C+C]
		pdb := part[c*2*C+C : (c+1)*2*C]
		for n := lo; n < hi; n++ {
			var di []float32
			if dinp.N > 0 {
				di = dinp.Host[n*C : (n+1)*C]
			}
			lnRowBwd(di, pdw, pdb, d[n*C:(n+1)*C], x[n*C:(n+1)*C], wt, mu[n], rs[n])
		}
	})
	for c := 0; c < k; c++ {
		if dw.N > 0 {
			acc(dw.Host[:C], part[c*2*C:c*2*C+C])
		}
		if db.N > 0 {
			acc(db.Host[:C], part[c*2*C+C:(c+1)*2*C])
		}
	}
}
