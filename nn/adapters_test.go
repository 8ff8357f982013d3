package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/seqdiff/seqdiff/compute/cpu"
)

// TestDenoiserAt: the logits LogitsAt gathers on the backend are the full
// logits' rows, and LogProbsAt's backend log-softmax (with [MASK] banned)
// matches the same computed in float64 on the host.
func TestDenoiserAt(t *testing.T) {
	cfg := DefaultConfig(12, 32, 2, 4, 16, ModeMDLM)
	m, err := New(cpu.New(2), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	m.Init(3)
	d := Denoiser{M: m}
	B, L, V := 2, 16, cfg.VocabSize
	r := rand.New(rand.NewPCG(5, 6))
	z := make([]int32, B*L)
	for i := range z {
		z[i] = 7 + int32(r.IntN(4))
		if r.IntN(2) == 0 {
			z[i] = int32(cfg.MaskID)
		}
	}
	tm := []float32{0.3, 0.8}
	full := make([]float32, B*L*V)
	if err := d.Logits(z, B, L, tm, full); err != nil {
		t.Fatal(err)
	}
	pos := []int32{31, 0, 17, 5}
	got := make([]float32, len(pos)*V)
	if err := d.LogitsAt(z, B, L, tm, pos, got); err != nil {
		t.Fatal(err)
	}
	for j, p := range pos {
		for v := range V {
			if got[j*V+v] != full[int(p)*V+v] {
				t.Fatalf("position %d id %d: %g, full logits %g", p, v, got[j*V+v], full[int(p)*V+v])
			}
		}
	}
	targets := []int32{7, 8, 9, 10}
	lp := make([]float64, len(pos))
	if err := d.LogProbsAt(z, B, L, tm, pos, targets, lp); err != nil {
		t.Fatal(err)
	}
	for j, p := range pos {
		row := full[int(p)*V : (int(p)+1)*V]
		mx := math.Inf(-1)
		for v, l := range row {
			if v != cfg.MaskID {
				mx = math.Max(mx, float64(l))
			}
		}
		var s float64
		for v, l := range row {
			if v != cfg.MaskID {
				s += math.Exp(float64(l) - mx)
			}
		}
		want := float64(row[targets[j]]) - mx - math.Log(s)
		if math.Abs(lp[j]-want) > 1e-5*math.Max(1, math.Abs(want)) {
			t.Errorf("position %d: log p %v, want %v", p, lp[j], want)
		}
	}
	if err := d.LogitsAt(z, B, L, tm, []int32{32}, make([]float32, V)); err == nil {
		t.Error("a position outside the grid accepted")
	}
	if err := d.LogitsAt(z, B, L, tm, nil, nil); err != nil {
		t.Errorf("no positions: %v", err)
	}
}
