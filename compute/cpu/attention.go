package cpu

import (
	"math"

	"github.com/seqdiff/seqdiff/compute"
)

// Attention is tiled flash-attention style so the (B,H,T,T) score matrix
// never exists: a work item is one (batch, head, query block); it walks the
// key blocks with an online softmax (running max m and sum l per query,
// the partial output rescaled when the max grows) and saves the output and
// lse = m + log l. The backward recomputes each score block from lse
// instead of storing probabilities. Score and value products are sgemm
// calls on strided views of qkv, except that each head's K (and V in the
// backward) is first transposed to (hd, T): then every product is a
// non-transposed or A-transposed one, which OpenBLAS serves with its
// small-matrix kernels without packing (it refuses the Q.K^T transpose
// case for these sizes and packs both operands instead).

// AttentionForward: out (B,T,C), lse (B,H,T) <- qkv (B,T,3C) with rotary
// applied, keyMask (B,T) optional (1 valid key, 0 padding), causal: query t
// sees keys <= t. Scores are scaled by 1/sqrt(hd). A query with no valid key
// gets a zero output and lse -Inf.
func (b *Backend) AttentionForward(out, lse, qkv compute.F32, keyMask compute.I32, B, T, C, H int, causal bool) {
	hd := C / H
	C3 := 3 * C
	scale := float32(1 / math.Sqrt(float64(hd)))
	Bq, Bk := b.attnBq, b.attnBk
	nqb := (T + Bq - 1) / Bq
	x, o := qkv.Host, out.Host
	negInf := float32(math.Inf(-1))
	if cap(b.kt) < B*H*hd*T {
		b.kt = make([]float32, B*H*hd*T)
	}
	kt := b.kt[:B*H*hd*T]
	b.parallelItems(B*H, func(_, item int) {
		h, bb := item%H, item/H
		transposeHead(kt[item*hd*T:(item+1)*hd*T], x[bb*T*C3+C+h*hd:], T, hd, C3)
	})
	b.parallelItems(B*H*nqb, func(w, item int) {
		qb := item % nqb
		h := (item / nqb) % H
		bb := item / (nqb * H)
		i0 := qb * Bq
		nq := min(Bq, T-i0)
		buf := b.scratch(w, Bq*Bk+Bq*hd+2*Bq)
		S := buf[:Bq*Bk]
		O := buf[Bq*Bk : Bq*Bk+nq*hd]
		m := buf[Bq*Bk+Bq*hd : Bq*Bk+Bq*hd+nq]
		l := buf[Bq*Bk+Bq*hd+Bq : Bq*Bk+Bq*hd+Bq+nq]
		clear(O)
		clear(l)
		for r := range m {
			m[r] = negInf
		}
		var km []int32
		if keyMask.N > 0 {
			km = keyMask.Host[bb*T : (bb+1)*T]
		}
		Q := x[(bb*T+i0)*C3+h*hd:]
		kend := T
		if causal {
			kend = i0 + nq
		}
		KT := kt[(bb*H+h)*hd*T : (bb*H+h+1)*hd*T]
		for j0 := 0; j0 < kend; j0 += Bk {
			nk := min(Bk, kend-j0)
			V := x[(bb*T+j0)*C3+2*C+h*hd:]
			b.blas.sgemm(false, false, nq, nk, hd, scale, Q, C3, KT[j0:], T, 0, S, nk)
			diag := causal && j0+nk-1 > i0
			for r := 0; r < nq; r++ {
				srow := S[r*nk : (r+1)*nk]
				maskRow(srow, km, j0, i0+r, diag)
				mnew := max(m[r], maxf(srow))
				if mnew == negInf { // no valid key so far
					clear(srow)
					continue
				}
				alpha := expf(m[r] - mnew)
				sum := expSubSum(srow, mnew)
				l[r] = l[r]*alpha + sum
				if alpha != 1 {
					scal(O[r*hd:(r+1)*hd], alpha)
				}
				m[r] = mnew
			}
			b.blas.sgemm(false, false, nq, hd, nk, 1, S, nk, V, C3, 1, O, hd)
		}
		for r := 0; r < nq; r++ {
			dst := o[(bb*T+i0+r)*C+h*hd : (bb*T+i0+r)*C+(h+1)*hd]
			L := negInf
			if l[r] == 0 {
				clear(dst)
			} else {
				inv := 1 / l[r]
				for d, v := range O[r*hd : (r+1)*hd] {
					dst[d] = v * inv
				}
				L = m[r] + float32(math.Log(float64(l[r])))
			}
			if lse.N > 0 {
				lse.Host[(bb*H+h)*T+i0+r] = L
			}
		}
	})
}

// maskRow sets to -Inf the scores of padded keys and, when diag, of keys
// after query i. srow holds keys j0, j0+1, ...
func maskRow(srow []float32, km []int32, j0, i int, diag bool) {
	negInf := float32(math.Inf(-1))
	if km != nil {
		for c, v := range km[j0 : j0+len(srow)] {
			if v == 0 {
				srow[c] = negInf
			}
		}
	}
	if diag {
		for c := max(i-j0+1, 0); c < len(srow); c++ {
			srow[c] = negInf
		}
	}
}

// AttentionBackward: dqkv (B,T,3C) OVERWRITTEN <- dout (B,T,C), qkv, out,
// lse, keyMask, causal as in the forward. A work item is one (batch, head):
// it owns that head's dq, dk, dv columns, so no two items write the same
// memory. Per query block i and key block j:
// P = exp(S - lse), dV_j += P^T dO_i, dP = dO_i V_j^T,
// dS = P * (dP - rowsum(dO_i * O_i)), dQ_i += scale dS K_j, dK_j += scale dS^T Q_i.
func (b *Backend) AttentionBackward(dqkv, dout, qkv, out, lse compute.F32, keyMask compute.I32, B, T, C, H int, causal bool) {
	hd := C / H
	C3 := 3 * C
	scale := float32(1 / math.Sqrt(float64(hd)))
	Bq, Bk := b.attnBq, b.attnBk
	x, dx, do, o, ls := qkv.Host, dqkv.Host, dout.Host, out.Host, lse.Host
	negInf := float32(math.Inf(-1))
	b.parallelItems(B*H, func(w, item int) {
		h := item % H
		bb := item / H
		buf := b.scratch(w, 2*Bq*Bk+Bq+2*hd*T)
		P := buf[:Bq*Bk]
		dP := buf[Bq*Bk : 2*Bq*Bk]
		D := buf[2*Bq*Bk : 2*Bq*Bk+Bq]
		KT := buf[2*Bq*Bk+Bq : 2*Bq*Bk+Bq+hd*T]
		VT := buf[2*Bq*Bk+Bq+hd*T : 2*Bq*Bk+Bq+2*hd*T]
		transposeHead(KT, x[bb*T*C3+C+h*hd:], T, hd, C3)
		transposeHead(VT, x[bb*T*C3+2*C+h*hd:], T, hd, C3)
		for t := 0; t < T; t++ {
			row := dx[(bb*T+t)*C3 : (bb*T+t+1)*C3]
			clear(row[h*hd : (h+1)*hd])
			clear(row[C+h*hd : C+(h+1)*hd])
			clear(row[2*C+h*hd : 2*C+(h+1)*hd])
		}
		var km []int32
		if keyMask.N > 0 {
			km = keyMask.Host[bb*T : (bb+1)*T]
		}
		for i0 := 0; i0 < T; i0 += Bq {
			nq := min(Bq, T-i0)
			Q := x[(bb*T+i0)*C3+h*hd:]
			dQ := dx[(bb*T+i0)*C3+h*hd:]
			dO := do[(bb*T+i0)*C+h*hd:]
			L := ls[(bb*H+h)*T+i0 : (bb*H+h)*T+i0+nq]
			for r := 0; r < nq; r++ {
				off := (bb*T+i0+r)*C + h*hd
				D[r] = dotf(do[off:off+hd], o[off:off+hd])
			}
			kend := T
			if causal {
				kend = i0 + nq
			}
			for j0 := 0; j0 < kend; j0 += Bk {
				nk := min(Bk, kend-j0)
				K := x[(bb*T+j0)*C3+C+h*hd:]
				dK := dx[(bb*T+j0)*C3+C+h*hd:]
				dV := dx[(bb*T+j0)*C3+2*C+h*hd:]
				Pb, dPb := P[:nq*nk], dP[:nq*nk]
				b.blas.sgemm(false, false, nq, nk, hd, scale, Q, C3, KT[j0:], T, 0, Pb, nk)
				diag := causal && j0+nk-1 > i0
				for r := 0; r < nq; r++ {
					prow := Pb[r*nk : (r+1)*nk]
					if L[r] == negInf {
						clear(prow)
						continue
					}
					maskRow(prow, km, j0, i0+r, diag)
					expSubSum(prow, L[r])
				}
				b.blas.sgemm(true, false, nk, hd, nq, 1, Pb, nk, dO, C, 1, dV, C3)
				b.blas.sgemm(false, false, nq, nk, hd, 1, dO, C, VT[j0:], T, 0, dPb, nk)
				for r := 0; r < nq; r++ {
					dsRow(dPb[r*nk:(r+1)*nk], Pb[r*nk:(r+1)*nk], D[r])
				}
				b.blas.sgemm(false, false, nq, hd, nk, scale, dPb, nk, K, C3, 1, dQ, C3)
				b.blas.sgemm(true, false, nk, hd, nq, scale, dPb, nk, Q, C3, 1, dK, C3)
			}
		}
	})
}

// transposeHead writes dst (hd, T) = src (T, hd) where src rows are ld
// apart. Tiles of 64 rows keep the source lines in L1 while each of the hd
// destination rows is written sequentially (row-by-row scattering hit the
// same L1 set for every store when T*4 bytes is a multiple of 4 KiB).
func transposeHead(dst, src []float32, T, hd, ld int) {
	dst = dst[:hd*T]
	const tile = 64
	for t0 := 0; t0 < T; t0 += tile {
		t1 := min(t0+tile, T)
		for d := 0; d < hd; d++ {
			out := dst[d*T+t0 : d*T+t1]
			for i := range out {
				out[i] = src[(t0+i)*ld+d]
			}
		}
	}
}
