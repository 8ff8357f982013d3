package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/seqdiff/seqdiff/compute"
)

// testBackends: gonum's BLAS with an odd thread count and tiny attention
// blocks (so multi-block, partial-block and causal-skip paths run on small
// shapes), this package's AVX-512 sgemm when the build and CPU have it, and
// OpenBLAS (one and two threads) when the library is present.
func testBackends(t *testing.T) []*Backend {
	t.Helper()
	g := newBackend(3, blasGonum)
	g.attnBq, g.attnBk = 3, 2
	bs := []*Backend{g}
	if simdGEMMAvailable() {
		s := newBackend(2, blasGo)
		s.attnBq, s.attnBk = 5, 3
		bs = append(bs, s)
	}
	if _, err := loadOpenBLAS(); err == nil {
		o := newBackend(1, blasAuto)
		bs = append(bs, o)
		o2 := newBackend(2, blasAuto)
		o2.attnBq, o2.attnBk = 4, 3
		bs = append(bs, o2)
	} else {
		t.Logf("OpenBLAS absent (%v): testing the gonum path only", err)
	}
	return bs
}

func tag(b *Backend) string {
	return fmt.Sprintf("%s/t%d/bq%d", b.blas.name()[:5], b.threads, b.attnBq)
}

func randn(r *rand.Rand, n int, scale float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = scale * float32(r.NormFloat64())
	}
	return x
}

func f32(x []float32) compute.F32 { return compute.F32{Host: x, N: len(x)} }
func i32(x []int32) compute.I32   { return compute.I32{Host: x, N: len(x)} }
func clone(x []float32) []float32 { return append([]float32(nil), x...) }
func dot64(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// gradCheck compares analytic[i] with the central difference of loss()
// in x[i] for every i. The loss is float32 kernel output contracted in
// float64, so with h = 1e-2 the difference quotient carries a truncation
// error O(h^2) ~ 1e-4 and a rounding error ~ 1e-7 * |loss| / h; the
// tolerance 1e-2 relative + 2e-3 absolute is well above both and far below
// any real error (a wrong sign or a missing term is O(1)).
func gradCheck(t *testing.T, what string, x, analytic []float32, loss func() float64) {
	t.Helper()
	const h = 1e-2
	bad := 0
	for i := range x {
		x0 := x[i]
		x[i] = x0 + h
		lp := loss()
		x[i] = x0 - h
		lm := loss()
		x[i] = x0
		num := (lp - lm) / (2 * h)
		a := float64(analytic[i])
		if math.Abs(a-num) > 2e-3+1e-2*math.Max(math.Abs(a), math.Abs(num)) || math.IsNaN(a) {
			if bad < 5 {
				t.Errorf("%s: grad[%d] analytic %.6g numeric %.6g", what, i, a, num)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d gradients off", what, bad, len(x))
	}
}

// closeTo reports values that differ by more than atol + rtol*|want|.
func closeTo(t *testing.T, what string, got []float32, want []float64, atol, rtol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d want %d", what, len(got), len(want))
	}
	bad := 0
	for i := range got {
		g, w := float64(got[i]), want[i]
		if math.IsInf(w, 0) && g == w {
			continue
		}
		if math.Abs(g-w) > atol+rtol*math.Abs(w) || math.IsNaN(g) != math.IsNaN(w) {
			if bad < 5 {
				t.Errorf("%s[%d] = %.8g, want %.8g", what, i, g, w)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d values off", what, bad, len(got))
	}
}
