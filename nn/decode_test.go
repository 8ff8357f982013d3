package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/seqdiff/seqdiff/compute/cpu"
)

// TestDecoderMatchesForward: the logits of step-by-step KV-cache decoding
// equal the full causal forward's at every position (within 1e-5 relative
// to the logits' scale), also after a Reset that reuses the cache.
func TestDecoderMatchesForward(t *testing.T) {
	cfg := DefaultConfig(12, 32, 2, 4, 24, ModeAR)
	m, err := New(cpu.New(2), cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.Init(7)
	B, T, V := 3, 24, cfg.VocabSize
	r := rand.New(rand.NewPCG(1, 2))
	tok := make([]int32, B*T)
	for i := range tok {
		tok[i] = 7 + int32(r.IntN(5))
	}
	if err := m.Forward(tok, nil, B, T, true); err != nil {
		t.Fatal(err)
	}
	full, err := m.LogitsHost()
	if err != nil {
		t.Fatal(err)
	}
	scale := 0.0
	for _, v := range full {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	d := NewDecoder(m)
	defer d.Free()
	out := make([]float32, B*V)
	for round := 0; round < 2; round++ {
		if err := d.Reset(B); err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for i := 0; i < T; i++ {
			col := make([]int32, B)
			for b := range col {
				col[b] = tok[b*T+i]
			}
			if err := d.Step(col, out); err != nil {
				t.Fatal(err)
			}
			for b := 0; b < B; b++ {
				for v := 0; v < V; v++ {
					worst = math.Max(worst, math.Abs(float64(out[b*V+v]-full[(b*T+i)*V+v])))
				}
			}
		}
		if worst > 1e-5*scale {
			t.Fatalf("round %d: decoder logits differ from the causal forward by %g (scale %g)", round, worst, scale)
		}
	}
	if err := d.Step(make([]int32, B), out); err == nil {
		t.Fatal("a step past seq_len was accepted")
	}
}
