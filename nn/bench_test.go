package nn

import (
	"math/rand/v2"
	"testing"

	"github.com/seqdiff/seqdiff/compute/cpu"
)

// BenchmarkTrainStep times one MDLM training step (forward, loss, backward,
// AdamW) of a dna-small-wide model on batch 8 x 256 with 2 threads; the
// full dna-small comparison with PyTorch is scripts/bench-train.sh (built
// with GOEXPERIMENT=simd; a plain go test uses the scalar exp and GELU).
// The model allocates nothing per step once the activations exist; the
// allocations reported come from the CPU backend's BLAS calls.
func BenchmarkTrainStep(b *testing.B) {
	cfg, _ := Preset("dna-small", ModeMDLM)
	cfg.SeqLen = 256
	m, _ := New(cpu.New(2), cfg)
	m.Init(1)
	m.EnableTraining()
	opt := NewOptimizer(m, DefaultAdamW())
	const B, T = 8, 256
	x0 := tinyBatch(B, T, 1)
	rng := rand.New(rand.NewPCG(1, 1))
	li, err := NewObjective(cfg).Inputs(x0, B, T, rng)
	if err != nil {
		b.Fatal(err)
	}
	step := func() {
		if _, err := m.Loss(li, nil, true); err != nil {
			b.Fatal(err)
		}
		m.ZeroGrad()
		if err := m.Backward(); err != nil {
			b.Fatal(err)
		}
		if _, err := opt.Update(m, 3e-4); err != nil {
			b.Fatal(err)
		}
	}
	step()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		step()
	}
	b.ReportMetric(float64(B*T*b.N)/b.Elapsed().Seconds(), "tokens/s")
}
