package cpu

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// sgemmer is the one BLAS routine the kernels need, row-major:
// c (m,n) = alpha * op(a) (m,k) . op(b) (k,n) + beta * c, where op
// transposes when tA / tB is set. lda, ldb, ldc are row strides, so
// blocks of larger matrices (one head of qkv) are passed without copies.
// Implementations must be safe for concurrent calls on disjoint c and must
// not spawn threads of their own beyond what the caller accounts for.
type sgemmer interface {
	sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	name() string
}

// gonumBLAS is the pure-Go fallback.
type gonumBLAS struct{}

func (gonumBLAS) name() string { return "gonum" }

func (gonumBLAS) sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scaleRows(c, m, n, ldc, beta)
		return
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	gonum.Implementation{}.Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// scaleRows sets c (m,n) with row stride ldc to beta*c (0 when beta is 0,
// as BLAS does, so stale NaNs do not survive).
func scaleRows(c []float32, m, n, ldc int, beta float32) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}
