package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestSgemm checks every available sgemm against float64 on all transpose
// combinations, sizes that are not multiples of the tiles (and above the
// packing blocks), padded leading dimensions, and alpha/beta.
func TestSgemm(t *testing.T) {
	impls := []sgemmer{gonumBLAS{}}
	top := level
	for lv := top; lv >= 1; lv-- { // AVX-512 and AVX2 kernels where the CPU has them
		level = lv
		if simdGEMMAvailable() {
			impls = append(impls, newSIMDBLAS())
		}
	}
	level = top
	if ob, err := loadOpenBLAS(); err == nil {
		impls = append(impls, ob)
	}
	r := rand.New(rand.NewPCG(41, 42))
	shapes := [][3]int{{1, 1, 1}, {3, 5, 7}, {4, 32, 16}, {9, 70, 33}, {5, 33, 300}, {6, 530, 20}}
	for _, im := range impls {
		for _, sh := range shapes {
			m, n, k := sh[0], sh[1], sh[2]
			for _, tA := range []bool{false, true} {
				for _, tB := range []bool{false, true} {
					for _, ab := range [][2]float32{{1, 0}, {0.5, 1}, {-2, 0.25}} {
						alpha, beta := ab[0], ab[1]
						ar, ac := m, k
						if tA {
							ar, ac = k, m
						}
						br, bc := k, n
						if tB {
							br, bc = n, k
						}
						lda, ldb, ldc := ac+3, bc+1, n+2
						a := randn(r, ar*lda, 1)
						b := randn(r, br*ldb, 1)
						c := randn(r, m*ldc, 1)
						want := make([]float64, len(c))
						for i := 0; i < m; i++ {
							for j := 0; j < ldc; j++ {
								if j >= n {
									want[i*ldc+j] = float64(c[i*ldc+j]) // untouched padding
									continue
								}
								var s float64
								for p := 0; p < k; p++ {
									var av, bv float32
									if tA {
										av = a[p*lda+i]
									} else {
										av = a[i*lda+p]
									}
									if tB {
										bv = b[j*ldb+p]
									} else {
										bv = b[p*ldb+j]
									}
									s += float64(av) * float64(bv)
								}
								want[i*ldc+j] = float64(alpha)*s + float64(beta)*float64(c[i*ldc+j])
							}
						}
						im.sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
						name := fmt.Sprintf("%s m%d n%d k%d tA %v tB %v alpha %v beta %v", im.name(), m, n, k, tA, tB, alpha, beta)
						closeTo(t, name, c, want, 1e-4*math.Sqrt(float64(k)), 1e-4)
					}
				}
			}
		}
	}
}
