package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/seqdiff/seqdiff/compute/cpu"
)

// TestHeadOnCountedRows checks that CrossEntropy running the head on the
// counted rows only (most targets ignored or weight 0, as with PAD and
// MDLM's unmasked tokens) gives the losses, per-row losses and gradients
// of the full head, and that Logits afterwards is still the full head.
func TestHeadOnCountedRows(t *testing.T) {
	cfg := DefaultConfig(300, 16, 2, 2, 12, ModeMDLM)
	const B, T, ignore, banned = 3, 12, 0, 1
	N := B * T
	r := rand.New(rand.NewPCG(3, 4))
	tokens := make([]int32, N)
	targets := make([]int32, N)
	weights := make([]float32, N)
	for i := range tokens {
		tokens[i] = int32(2 + r.IntN(298))
		targets[i] = ignore
		if r.IntN(4) == 0 { // about a quarter of the rows count
			targets[i] = int32(2 + r.IntN(298))
			weights[i] = 0.5 + r.Float32()
		}
	}
	weights[5], targets[5] = 0, 7 // a zero weight counts as ignored
	run := func(full bool) (float64, []float32, []float32, []float32) {
		m, err := New(cpu.New(1), cfg)
		if err != nil {
			t.Fatal(err)
		}
		m.Init(9)
		m.EnableTraining()
		m.ZeroGrad()
		if err := m.Forward(tokens, nil, B, T, false); err != nil {
			t.Fatal(err)
		}
		if full {
			m.Logits() // the full head first: CrossEntropy uses it
		}
		loss, err := m.CrossEntropy(targets, weights, ignore, banned, 17, true)
		if err != nil {
			t.Fatal(err)
		}
		rows := append([]float32(nil), m.RowLosses()...)
		if err := m.Backward(); err != nil {
			t.Fatal(err)
		}
		g := append([]float32(nil), m.Grads().Host...)
		if err := m.Forward(tokens, nil, B, T, false); err != nil {
			t.Fatal(err)
		}
		if _, err := m.CrossEntropy(targets, weights, ignore, banned, 17, false); err != nil {
			t.Fatal(err)
		}
		lg, err := m.LogitsHost()
		if err != nil {
			t.Fatal(err)
		}
		return loss, rows, g, lg
	}
	lFull, rFull, gFull, lgFull := run(true)
	lRows, rRows, gRows, lgRows := run(false)
	if math.Abs(lFull-lRows) > 1e-6*math.Abs(lFull) {
		t.Errorf("loss: counted rows %v, full head %v", lRows, lFull)
	}
	for i := range rFull {
		if math.Abs(float64(rFull[i]-rRows[i])) > 1e-5 {
			t.Fatalf("row loss %d: counted rows %v, full head %v", i, rRows[i], rFull[i])
		}
		if (targets[i] == ignore || weights[i] == 0) && rRows[i] != 0 {
			t.Fatalf("row %d carries no loss but got %v", i, rRows[i])
		}
	}
	for i := range gFull {
		if d := math.Abs(float64(gFull[i] - gRows[i])); d > 1e-6+1e-4*math.Abs(float64(gFull[i])) {
			t.Fatalf("gradient %d: counted rows %v, full head %v", i, gRows[i], gFull[i])
		}
	}
	if len(lgRows) != N*cfg.VocabSize {
		t.Fatalf("logits after a counted-rows loss: %d values, want %d", len(lgRows), N*cfg.VocabSize)
	}
	// Bit for bit: both runs end with the same Forward and full-head
	// product (same weights, shapes and cpu.New(1)); only the losses and
	// gradients above come from differently shaped products.
	for i := range lgFull {
		if lgFull[i] != lgRows[i] {
			t.Fatalf("logit %d after a counted-rows loss: %v, want %v", i, lgRows[i], lgFull[i])
		}
	}
}
