package cpu

import (
	"math/rand/v2"
	"testing"
	"time"
)

// timed runs f b.N times and reports CPU milliseconds per op.
func timed(b *testing.B, f func()) {
	b.ResetTimer()
	c0, ok := cpuTime()
	for i := 0; i < b.N; i++ {
		f()
	}
	b.StopTimer()
	if c1, _ := cpuTime(); ok {
		b.ReportMetric(float64(c1-c0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	}
}

// Benchmarks at the dna-small shapes: B 8, T 1024, d 128, 4 heads (hd 32),
// MLP 512, vocab 12. Run with GOEXPERIMENT=simd for the vectorised paths;
// SEQDIFF_BLAS=go benchmarks the pure-Go BLAS.

const (
	bB, bT, bC, bH, bV = 8, 1024, 128, 4, 12
	bN                 = bB * bT
)

func BenchmarkAttentionFwdBwd(b *testing.B) {
	for _, causal := range []bool{false, true} {
		name := "bidirectional"
		if causal {
			name = "causal"
		}
		b.Run(name, func(b *testing.B) {
			be := New(0)
			r := rand.New(rand.NewPCG(1, 2))
			qkv := randn(r, bN*3*bC, 1)
			dout := randn(r, bN*bC, 1)
			out, lse, dqkv := make([]float32, bN*bC), make([]float32, bB*bH*bT), make([]float32, bN*3*bC)
			b.ReportAllocs()
			timed(b, func() {
				be.AttentionForward(f32(out), f32(lse), f32(qkv), i32(nil), bB, bT, bC, bH, causal)
				be.AttentionBackward(f32(dqkv), f32(dout), f32(qkv), f32(out), f32(lse), i32(nil), bB, bT, bC, bH, causal)
			})
		})
	}
}

func BenchmarkAttentionFwd(b *testing.B) {
	be := New(0)
	r := rand.New(rand.NewPCG(1, 2))
	qkv := randn(r, bN*3*bC, 1)
	out, lse := make([]float32, bN*bC), make([]float32, bB*bH*bT)
	timed(b, func() {
		be.AttentionForward(f32(out), f32(lse), f32(qkv), i32(nil), bB, bT, bC, bH, false)
	})
}

// BenchmarkMatmul: forward + backward (dinp, dw, dbias) of each linear layer
// of a dna-small block, and the head.
func BenchmarkMatmul(b *testing.B) {
	shapes := []struct {
		name   string
		IC, OC int
		bias   bool
	}{
		{"qkv_128x384", bC, 3 * bC, false},
		{"out_128x128", bC, bC, false},
		{"fc1_128x512", bC, 4 * bC, true},
		{"fc2_512x128", 4 * bC, bC, true},
		{"head_128x12", bC, bV, true},
	}
	for _, s := range shapes {
		b.Run(s.name, func(b *testing.B) {
			be := New(0)
			r := rand.New(rand.NewPCG(3, 4))
			x, w := randn(r, bN*s.IC, 1), randn(r, s.OC*s.IC, 0.1)
			out, dout := make([]float32, bN*s.OC), randn(r, bN*s.OC, 1)
			dx, dw := make([]float32, bN*s.IC), make([]float32, s.OC*s.IC)
			var bias, db []float32
			if s.bias {
				bias, db = make([]float32, s.OC), make([]float32, s.OC)
			}
			timed(b, func() {
				be.MatmulForward(f32(out), f32(x), f32(w), f32(bias), bN, s.IC, s.OC)
				be.MatmulBackward(f32(dx), f32(dw), f32(db), f32(dout), f32(x), f32(w), bN, s.IC, s.OC)
			})
			flops := 3 * 2 * float64(bN*s.IC*s.OC)
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func BenchmarkGelu(b *testing.B) {
	be := New(0)
	n := bN * 4 * bC
	r := rand.New(rand.NewPCG(5, 6))
	x, out, d := randn(r, n, 1), make([]float32, n), randn(r, n, 1)
	b.Run("fwd", func(b *testing.B) {
		b.SetBytes(int64(8 * n))
		timed(b, func() { be.GeluForward(f32(out), f32(x), n) })
	})
	b.Run("bwd", func(b *testing.B) {
		b.SetBytes(int64(12 * n))
		timed(b, func() { be.GeluBackward(f32(out), f32(x), f32(d), n) })
	})
}

func BenchmarkLayerNorm(b *testing.B) {
	be := New(0)
	r := rand.New(rand.NewPCG(7, 8))
	x, out, d := randn(r, bN*bC, 1), make([]float32, bN*bC), randn(r, bN*bC, 1)
	dx := make([]float32, bN*bC)
	w, bias, dw, db := randn(r, bC, 1), randn(r, bC, 1), make([]float32, bC), make([]float32, bC)
	mean, rstd := make([]float32, bN), make([]float32, bN)
	b.Run("fwd", func(b *testing.B) {
		timed(b, func() { be.LayerNormForward(f32(out), f32(mean), f32(rstd), f32(x), f32(w), f32(bias), bN, bC) })
	})
	b.Run("bwd", func(b *testing.B) {
		timed(b, func() {
			be.LayerNormBackward(f32(dx), f32(dw), f32(db), f32(d), f32(x), f32(w), f32(mean), f32(rstd), bN, bC)
		})
	})
}

func BenchmarkCrossEntropy(b *testing.B) {
	be := New(0)
	r := rand.New(rand.NewPCG(9, 10))
	logits := randn(r, bN*bV, 2)
	work := make([]float32, len(logits))
	tg := make([]int32, bN)
	for i := range tg {
		tg[i] = int32(7 + i%4)
	}
	losses := make([]float32, bN)
	timed(b, func() {
		copy(work, logits)
		be.CrossEntropy(f32(losses), f32(work), i32(tg), f32(nil), bN, bV, 4, 3, true, 1)
	})
}

func BenchmarkAdamW(b *testing.B) {
	be := New(0)
	const n = 800_000 // dna-small parameter count, about
	r := rand.New(rand.NewPCG(11, 12))
	p, g, m, v := randn(r, n, 1), randn(r, n, 1), make([]float32, n), make([]float32, n)
	step := 0
	timed(b, func() {
		step++
		be.AdamW(f32(p), f32(g), f32(m), f32(v), n, 1e-3, 0.9, 0.999, 1e-8, 0.01, step)
	})
}

func BenchmarkRotary(b *testing.B) {
	be := New(0)
	r := rand.New(rand.NewPCG(13, 14))
	qkv := randn(r, bN*3*bC, 1)
	timed(b, func() {
		be.RotaryForward(f32(qkv), bB, bT, bC, bH, 0)
		be.RotaryBackward(f32(qkv), bB, bT, bC, bH, 0)
	})
}
