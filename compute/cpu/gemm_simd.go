//go:build goexperiment.simd && amd64

package cpu

import (
	"sync"

	"simd/archsimd"
)

// simdBLAS is a pure-Go sgemm through simd/archsimd, for machines without
// OpenBLAS: about 70 GFLOP/s per core in its AVX-512 4x32 micro-kernel
// where gonum's pure-Go sgemm reaches ~12 (OpenBLAS ~95); AVX2 machines
// get a 4x16 kernel. Classic structure: C is first scaled by beta; then
// for each block of gemmKC inner indices the needed columns of
// alpha*op(B) are packed into nr-wide panels, and for each 4-row block of
// op(A) (packed likewise) the micro-kernel accumulates a 4 x nr tile of C
// in registers.
type simdBLAS struct {
	nr int // columns of a C tile: 32 (AVX-512, two 16-lane vectors) or 16 (AVX2)
}

const (
	gemmMR = 4   // rows of a C tile
	gemmNR = 32  // widest tile
	gemmKC = 256 // inner-dimension block: a packed B panel is at most 32 KiB
	gemmNC = 512 // columns packed at once
)

func simdGEMMAvailable() bool { return level >= 1 }

func newSIMDBLAS() sgemmer {
	if level == 2 {
		return simdBLAS{nr: 32}
	}
	return simdBLAS{nr: 16}
}

func (s simdBLAS) name() string {
	if s.nr == 32 {
		return "go-avx512"
	}
	return "go-avx2"
}

type gemmBuf struct{ a, b, tile []float32 }

var gemmBufs = sync.Pool{New: func() any {
	return &gemmBuf{
		a:    make([]float32, gemmMR*gemmKC),
		b:    make([]float32, gemmKC*gemmNC),
		tile: make([]float32, gemmMR*gemmNR),
	}
}}

func (s simdBLAS) sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if beta != 1 {
		scaleRows(c, m, n, ldc, beta)
	}
	if k == 0 || alpha == 0 {
		return
	}
	nr := s.nr
	buf := gemmBufs.Get().(*gemmBuf)
	defer gemmBufs.Put(buf)
	for j0 := 0; j0 < n; j0 += gemmNC {
		nc := min(gemmNC, n-j0)
		npan := (nc + nr - 1) / nr
		for p0 := 0; p0 < k; p0 += gemmKC {
			kc := min(gemmKC, k-p0)
			// Pack alpha*op(B)[p0:p0+kc, j0:j0+nc] as npan panels of
			// (kc, 32), zero-padded on the right.
			bp := buf.b[:npan*kc*nr]
			for q := 0; q < npan; q++ {
				pan := bp[q*kc*nr : (q+1)*kc*nr]
				jq := j0 + q*nr
				w := min(nr, j0+nc-jq)
				for p := 0; p < kc; p++ {
					dst := pan[p*nr : (p+1)*nr]
					if tB {
						for jj := 0; jj < w; jj++ {
							dst[jj] = alpha * b[(jq+jj)*ldb+p0+p]
						}
					} else if w == nr {
						src := b[(p0+p)*ldb+jq : (p0+p)*ldb+jq+nr : (p0+p)*ldb+jq+nr]
						av := archsimd.BroadcastFloat32x8(alpha)
						for jj := 0; jj < nr; jj += 8 {
							archsimd.LoadFloat32x8Slice(src[jj:]).Mul(av).StoreSlice(dst[jj:])
						}
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
					jq := j0 + q*nr
					w := min(nr, j0+nc-jq)
					pan := bp[q*kc*nr : (q+1)*kc*nr]
					if h == gemmMR && w == nr {
						s.kern(kc, ap, pan, c[i0*ldc+jq:], ldc)
						continue
					}
					t := buf.tile[:gemmMR*nr]
					clear(t)
					s.kern(kc, ap, pan, t, nr)
					for ii := 0; ii < h; ii++ {
						acc(c[(i0+ii)*ldc+jq:(i0+ii)*ldc+jq+w], t[ii*nr:ii*nr+w])
					}
				}
			}
		}
	}
}

func (s simdBLAS) kern(k int, ap, bp, c []float32, ldc int) {
	if s.nr == 32 {
		kern4x32(k, ap, bp, c, ldc)
	} else {
		kern4x16(k, ap, bp, c, ldc)
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

// kern4x16: c (4 rows ldc apart, 16 columns) += ap (k,4)^T . bp (k,16),
// in 8-lane AVX2 vectors.
func kern4x16(k int, ap, bp []float32, c []float32, ldc int) {
	var c00, c01, c10, c11, c20, c21, c30, c31 archsimd.Float32x8
	ap = ap[:gemmMR*k]
	bp = bp[:16*k]
	for p := 0; p < k; p++ {
		bb := bp[p*16 : p*16+16 : p*16+16]
		b0 := archsimd.LoadFloat32x8((*[8]float32)(bb[0:8]))
		b1 := archsimd.LoadFloat32x8((*[8]float32)(bb[8:16]))
		aa := ap[p*gemmMR : p*gemmMR+gemmMR : p*gemmMR+gemmMR]
		a0 := archsimd.BroadcastFloat32x8(aa[0])
		c00 = b0.MulAdd(a0, c00)
		c01 = b1.MulAdd(a0, c01)
		a1 := archsimd.BroadcastFloat32x8(aa[1])
		c10 = b0.MulAdd(a1, c10)
		c11 = b1.MulAdd(a1, c11)
		a2 := archsimd.BroadcastFloat32x8(aa[2])
		c20 = b0.MulAdd(a2, c20)
		c21 = b1.MulAdd(a2, c21)
		a3 := archsimd.BroadcastFloat32x8(aa[3])
		c30 = b0.MulAdd(a3, c30)
		c31 = b1.MulAdd(a3, c31)
	}
	r0 := c[0:16:16]
	r1 := c[ldc : ldc+16 : ldc+16]
	r2 := c[2*ldc : 2*ldc+16 : 2*ldc+16]
	r3 := c[3*ldc : 3*ldc+16 : 3*ldc+16]
	c00.Add(archsimd.LoadFloat32x8Slice(r0)).StoreSlice(r0)
	c01.Add(archsimd.LoadFloat32x8Slice(r0[8:])).StoreSlice(r0[8:])
	c10.Add(archsimd.LoadFloat32x8Slice(r1)).StoreSlice(r1)
	c11.Add(archsimd.LoadFloat32x8Slice(r1[8:])).StoreSlice(r1[8:])
	c20.Add(archsimd.LoadFloat32x8Slice(r2)).StoreSlice(r2)
	c21.Add(archsimd.LoadFloat32x8Slice(r2[8:])).StoreSlice(r2[8:])
	c30.Add(archsimd.LoadFloat32x8Slice(r3)).StoreSlice(r3)
	c31.Add(archsimd.LoadFloat32x8Slice(r3[8:])).StoreSlice(r3[8:])
}
