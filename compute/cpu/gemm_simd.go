//go:build goexperiment.simd && amd64

package cpu

import (
	"sync"

	"simd/archsimd"
)

// simdBLAS is a pure-Go sgemm on AVX-512 through simd/archsimd, for
// machines without OpenBLAS: about 70 GFLOP/s per core in its 4x32
// micro-kernel where gonum's pure-Go sgemm reaches ~12 (OpenBLAS ~95).
// Classic structure: C is first scaled by beta; then for each block of
// gemmKC inner indices the needed columns of alpha*op(B) are packed into
// 32-wide panels, and for each 4-row block of op(A) (packed likewise) the
// micro-kernel accumulates a 4x32 tile of C in registers.
type simdBLAS struct{}

const (
	gemmMR = 4   // rows of a C tile
	gemmNR = 32  // columns of a C tile (two 16-lane vectors)
	gemmKC = 256 // inner-dimension block: a packed B panel is 32 KiB
	gemmNC = 512 // columns packed at once
)

func simdGEMMAvailable() bool { return level == 2 }

func newSIMDBLAS() sgemmer { return simdBLAS{} }

func (simdBLAS) name() string { return "go-avx512" }

type gemmBuf struct{ a, b, tile []float32 }

var gemmBufs = sync.Pool{New: func() any {
	return &gemmBuf{
		a:    make([]float32, gemmMR*gemmKC),
		b:    make([]float32, gemmKC*gemmNC),
		tile: make([]float32, gemmMR*gemmNR),
	}
}}

func (simdBLAS) sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if beta != 1 {
		scaleRows(c, m, n, ldc, beta)
	}
	if k == 0 || alpha == 0 {
		return
	}
	buf := gemmBufs.Get().(*gemmBuf)
	defer gemmBufs.Put(buf)
	for j0 := 0; j0 < n; j0 += gemmNC {
		nc := min(gemmNC, n-j0)
		npan := (nc + gemmNR - 1) / gemmNR
		for p0 := 0; p0 < k; p0 += gemmKC {
			kc := min(gemmKC, k-p0)
			// Pack alpha*op(B)[p0:p0+kc, j0:j0+nc] as npan panels of
			// (kc, 32), zero-padded on the right.
			bp := buf.b[:npan*kc*gemmNR]
			for q := 0; q < npan; q++ {
				pan := bp[q*kc*gemmNR : (q+1)*kc*gemmNR]
				jq := j0 + q*gemmNR
				w := min(gemmNR, j0+nc-jq)
				for p := 0; p < kc; p++ {
					dst := pan[p*gemmNR : (p+1)*gemmNR]
					if tB {
						for jj := 0; jj < w; jj++ {
							dst[jj] = alpha * b[(jq+jj)*ldb+p0+p]
						}
					} else if w == gemmNR {
						src := b[(p0+p)*ldb+jq : (p0+p)*ldb+jq+gemmNR : (p0+p)*ldb+jq+gemmNR]
						av := archsimd.BroadcastFloat32x16(alpha)
						archsimd.LoadFloat32x16Slice(src).Mul(av).StoreSlice(dst)
						archsimd.LoadFloat32x16Slice(src[16:]).Mul(av).StoreSlice(dst[16:])
						continue
					} else {
						src := b[(p0+p)*ldb+jq : (p0+p)*ldb+jq+w]
						for jj, v := range src {
							dst[jj] = alpha * v
						}
					}
					clear(dst[w:])
				}
			}
			for i0 := 0; i0 < m; i0 += gemmMR {
				h := min(gemmMR, m-i0)
				ap := buf.a[:kc*gemmMR]
				switch {
				case h == gemmMR && !tA:
					r0 := a[i0*lda+p0 : i0*lda+p0+kc]
					r1 := a[(i0+1)*lda+p0 : (i0+1)*lda+p0+kc]
					r2 := a[(i0+2)*lda+p0 : (i0+2)*lda+p0+kc]
					r3 := a[(i0+3)*lda+p0 : (i0+3)*lda+p0+kc]
					for p := range r0 {
						dst := ap[p*gemmMR : p*gemmMR+gemmMR : p*gemmMR+gemmMR]
						dst[0], dst[1], dst[2], dst[3] = r0[p], r1[p], r2[p], r3[p]
					}
				case h == gemmMR:
					for p := 0; p < kc; p++ {
						copy(ap[p*gemmMR:(p+1)*gemmMR], a[(p0+p)*lda+i0:(p0+p)*lda+i0+gemmMR])
					}
				default:
					for p := 0; p < kc; p++ {
						dst := ap[p*gemmMR : (p+1)*gemmMR]
						for ii := 0; ii < gemmMR; ii++ {
							switch {
							case ii >= h:
								dst[ii] = 0
							case tA:
								dst[ii] = a[(p0+p)*lda+i0+ii]
							default:
								dst[ii] = a[(i0+ii)*lda+p0+p]
							}
						}
					}
				}
				for q := 0; q < npan; q++ {
					jq := j0 + q*gemmNR
					w := min(gemmNR, j0+nc-jq)
					pan := bp[q*kc*gemmNR : (q+1)*kc*gemmNR]
					if h == gemmMR && w == gemmNR {
						kern4x32(kc, ap, pan, c[i0*ldc+jq:], ldc)
						continue
					}
					t := buf.tile
					clear(t)
					kern4x32(kc, ap, pan, t, gemmNR)
					for ii := 0; ii < h; ii++ {
						acc(c[(i0+ii)*ldc+jq:(i0+ii)*ldc+jq+w], t[ii*gemmNR:ii*gemmNR+w])
					}
				}
			}
		}
	}
}

// kern4x32: c (4 rows ldc apart, 32 columns) += ap (k,4)^T . bp (k,32),
// with ap and bp packed row after row.
func kern4x32(k int, ap, bp []float32, c []float32, ldc int) {
	var c00, c01, c10, c11, c20, c21, c30, c31 archsimd.Float32x16
	ap = ap[:gemmMR*k]
	bp = bp[:gemmNR*k]
	for p := 0; p < k; p++ {
		bb := bp[p*gemmNR : p*gemmNR+gemmNR : p*gemmNR+gemmNR]
		b0 := archsimd.LoadFloat32x16((*[16]float32)(bb[0:16]))
		b1 := archsimd.LoadFloat32x16((*[16]float32)(bb[16:32]))
		aa := ap[p*gemmMR : p*gemmMR+gemmMR : p*gemmMR+gemmMR]
		a0 := archsimd.BroadcastFloat32x16(aa[0])
		c00 = b0.MulAdd(a0, c00)
		c01 = b1.MulAdd(a0, c01)
		a1 := archsimd.BroadcastFloat32x16(aa[1])
		c10 = b0.MulAdd(a1, c10)
		c11 = b1.MulAdd(a1, c11)
		a2 := archsimd.BroadcastFloat32x16(aa[2])
		c20 = b0.MulAdd(a2, c20)
		c21 = b1.MulAdd(a2, c21)
		a3 := archsimd.BroadcastFloat32x16(aa[3])
		c30 = b0.MulAdd(a3, c30)
		c31 = b1.MulAdd(a3, c31)
	}
	r0 := c[0:32:32]
	r1 := c[ldc : ldc+32 : ldc+32]
	r2 := c[2*ldc : 2*ldc+32 : 2*ldc+32]
	r3 := c[3*ldc : 3*ldc+32 : 3*ldc+32]
	c00.Add(archsimd.LoadFloat32x16Slice(r0)).StoreSlice(r0)
	c01.Add(archsimd.LoadFloat32x16Slice(r0[16:])).StoreSlice(r0[16:])
	c10.Add(archsimd.LoadFloat32x16Slice(r1)).StoreSlice(r1)
	c11.Add(archsimd.LoadFloat32x16Slice(r1[16:])).StoreSlice(r1[16:])
	c20.Add(archsimd.LoadFloat32x16Slice(r2)).StoreSlice(r2)
	c21.Add(archsimd.LoadFloat32x16Slice(r2[16:])).StoreSlice(r2[16:])
	c30.Add(archsimd.LoadFloat32x16Slice(r3)).StoreSlice(r3)
	c31.Add(archsimd.LoadFloat32x16Slice(r3[16:])).StoreSlice(r3[16:])
}
