package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestCrossEntropyWide checks the float32 vector path taken at text
// vocabularies against a float64 softmax: losses, the in-place gradient,
// the banned class and untouched logits without backward.
func TestCrossEntropyWide(t *testing.T) {
	for _, b := range testBackends(t) {
		r := rand.New(rand.NewPCG(17, 18))
		const N, V, ignore, banned = 7, 3001, 0, 103
		targets := []int32{5, 0, 3000, 17, 2, 999, 104} // 0 = ignore
		weights := []float32{1, 1, 0.5, 2, 0, 1, 0.25}
		logits := randn(r, N*V, 3)
		work := clone(logits)
		losses := make([]float32, N)
		b.CrossEntropy(f32(losses), f32(work), i32(targets), f32(weights), N, V, ignore, banned, false, 0)
		for i := range work {
			if work[i] != logits[i] {
				t.Fatalf("%s wide ce without backward changed logit %d", tag(b), i)
			}
		}
		want := make([]float64, N)
		probs := make([][]float64, N)
		for n := range N {
			if int(targets[n]) == ignore || weights[n] == 0 {
				continue
			}
			row := logits[n*V : (n+1)*V]
			mx := math.Inf(-1)
			for v, x := range row {
				if v != banned {
					mx = math.Max(mx, float64(x))
				}
			}
			var sum float64
			for v, x := range row {
				if v != banned {
					sum += math.Exp(float64(x) - mx)
				}
			}
			lse := mx + math.Log(sum)
			want[n] = float64(weights[n]) * (lse - float64(row[targets[n]]))
			probs[n] = make([]float64, V)
			for v, x := range row {
				if v != banned {
					probs[n][v] = math.Exp(float64(x) - lse)
				}
			}
		}
		closeTo(t, tag(b)+" wide ce losses", losses, want, 2e-5, 2e-5)
		const gs = 0.3
		grad := clone(logits)
		b.CrossEntropy(f32(losses), f32(grad), i32(targets), f32(weights), N, V, ignore, banned, true, gs)
		closeTo(t, tag(b)+" wide ce losses (backward)", losses, want, 2e-5, 2e-5)
		for n := range N {
			for v := range V {
				g := float64(grad[n*V+v])
				var w float64
				if probs[n] != nil {
					p := probs[n][v]
					if v == int(targets[n]) {
						p--
					}
					w = gs * float64(weights[n]) * p
				}
				if math.Abs(g-w) > 1e-6+1e-4*math.Abs(w) {
					t.Fatalf("%s wide ce dlogits[%d,%d] = %v, want %v", tag(b), n, v, g, w)
				}
			}
		}
	}
}

// TestSoftmaxWide checks the float32 vector softmax at a text vocabulary
// against float64, with a temperature and a banned class.
func TestSoftmaxWide(t *testing.T) {
	for _, b := range testBackends(t) {
		r := rand.New(rand.NewPCG(19, 20))
		const N, V, banned = 3, 2049, 7
		const temp = 0.8
		logits := randn(r, N*V, 4)
		probs := make([]float32, N*V)
		b.Softmax(f32(probs), f32(logits), N, V, banned, temp)
		for n := range N {
			row := logits[n*V : (n+1)*V]
			mx := math.Inf(-1)
			for v, x := range row {
				if v != banned {
					mx = math.Max(mx, float64(x)/temp)
				}
			}
			var sum float64
			for v, x := range row {
				if v != banned {
					sum += math.Exp(float64(x)/temp - mx)
				}
			}
			for v, x := range row {
				want := 0.0
				if v != banned {
					want = math.Exp(float64(x)/temp-mx) / sum
				}
				if got := float64(probs[n*V+v]); math.Abs(got-want) > 1e-8+1e-4*want {
					t.Fatalf("%s wide softmax[%d,%d] = %v, want %v", tag(b), n, v, got, want)
				}
			}
		}
	}
}
