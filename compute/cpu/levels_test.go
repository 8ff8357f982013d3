package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSIMDLevels runs the vector helpers at every level this CPU supports
// (AVX-512, AVX2, scalar) against float64 references, so the AVX2 path is
// checked on AVX-512 machines too.
func TestSIMDLevels(t *testing.T) {
	top := level
	defer func() { level = top }()
	r := rand.New(rand.NewPCG(31, 32))
	for lv := top; lv >= 0; lv-- {
		level = lv
		for _, n := range []int{1, 7, 8, 16, 33, 100} {
			x := randn(r, n, 3)
			y := randn(r, n, 1)
			// exp-sum with a -Inf (masked) lane
			x[0] = float32(math.Inf(-1))
			e := clone(x)
			m := maxf(x)
			var want float64
			for _, v := range x {
				want += math.Exp(float64(v - m))
			}
			s := expSubSum(e, m)
			if math.Abs(float64(s)-want) > 1e-6*want+1e-6 {
				t.Errorf("level %d n %d: expSubSum %v want %v", lv, n, s, want)
			}
			for i, v := range x {
				w := math.Exp(float64(v - m))
				if math.Abs(float64(e[i])-w) > 3e-7*w+1e-30 {
					t.Errorf("level %d: exp(%v) = %v want %v", lv, v-m, e[i], w)
				}
			}
			if mm := maxScalar(x); m != mm {
				t.Errorf("level %d: maxf %v want %v", lv, m, mm)
			}
			if d, w := dotf(x[1:], y[1:]), dot64(x[1:], y[1:]); math.Abs(float64(d)-w) > 1e-5*(1+math.Abs(w)) {
				t.Errorf("level %d: dotf %v want %v", lv, d, w)
			}
			g, gb := make([]float32, n), make([]float32, n)
			x[0] = 15
			geluFwd(g, x)
			geluBwd(gb, x, y)
			for i, v := range x {
				xv := float64(v)
				u := math.Sqrt(2/math.Pi) * (xv + 0.044715*xv*xv*xv)
				th := math.Tanh(u)
				w := 0.5 * xv * (1 + th)
				dw := float64(y[i]) * (0.5*(1+th) + 0.5*xv*(1-th*th)*math.Sqrt(2/math.Pi)*(1+3*0.044715*xv*xv))
				if math.Abs(float64(g[i])-w) > 1e-6+1e-5*math.Abs(w) {
					t.Errorf("level %d: gelu(%v) = %v want %v", lv, v, g[i], w)
				}
				if math.Abs(float64(gb[i])-dw) > 1e-5+1e-5*math.Abs(dw) {
					t.Errorf("level %d: gelu'(%v)*dy = %v want %v", lv, v, gb[i], dw)
				}
			}
			p, dp := randn(r, n, 1), randn(r, n, 1)
			dp0 := clone(dp)
			dsRow(dp, p, 0.3)
			sc := clone(p)
			scal(sc, 1.5)
			ac := clone(p)
			acc(ac, y)
			for i := range dp {
				if dp[i] != p[i]*(dp0[i]-0.3) || sc[i] != p[i]*1.5 || ac[i] != p[i]+y[i] {
					t.Fatalf("level %d: dsRow/scal/acc wrong at %d", lv, i)
				}
			}
		}
	}
}
