package nn

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/seqdiff/seqdiff/compute/cpu"
	"github.com/seqdiff/seqdiff/vocab"
)

// TestObjective: each mode's inputs as training takes them. AR: the model
// reads x[:, :-1] causally and predicts x[:, 1:], PAD targets weighted 0.
// MDLM: the draws of Inputs rebuilt exactly by Masked; [MASK] banned; the
// times passed on. MLM: bidirectional, nothing banned, normalised by the
// chosen positions.
func TestObjective(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	const B, L = 2, 9
	x := tinyBatch(B, L, 4)
	x[L-1] = vocab.Pad
	ar, err := NewObjective(tinyConfig(ModeAR)).Inputs(x, B, L, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !ar.Causal || ar.T != L-1 || ar.Banned != -1 || ar.Norm != float64(2*(L-1)-1) || ar.Weights[L-2] != 0 ||
		!slices.Equal(ar.Input[:L-1], x[:L-1]) || !slices.Equal(ar.Targets[L-1:], x[L+1:]) {
		t.Fatalf("ar inputs %+v", ar)
	}
	obj := NewObjective(tinyConfig(ModeMDLM))
	md, err := obj.Inputs(x, B, L, rng)
	if err != nil {
		t.Fatal(err)
	}
	if md.Causal || md.Banned != vocab.Mask || len(md.Time) != B || md.Norm != float64(B*L-1) {
		t.Fatalf("mdlm inputs %+v", md)
	}
	masked := make([]uint8, B*L)
	for i, z := range md.Input {
		if z == vocab.Mask {
			masked[i] = 1
		}
	}
	in, w, tm := slices.Clone(md.Input), slices.Clone(md.Weights), slices.Clone(md.Time)
	again, err := NewObjective(tinyConfig(ModeMDLM)).Masked(x, B, L, tm, masked)
	if err != nil || !slices.Equal(again.Input, in) || !slices.Equal(again.Weights, w) || again.Norm != md.Norm {
		t.Fatalf("Masked does not rebuild Inputs' draws: %v", err)
	}
	mlm, err := NewObjective(tinyConfig(ModeMLM)).Inputs(x, B, L, rng)
	if err != nil || mlm.Causal || mlm.Banned != -1 || mlm.Time != nil {
		t.Fatalf("mlm inputs %+v %v", mlm, err)
	}
	if _, err := NewObjective(tinyConfig(ModeAR)).Masked(x, B, L, tm, masked); err == nil {
		t.Fatal("ar accepted given masks")
	}
	bad := tinyConfig(ModeAR)
	bad.Mode = "gpt"
	if _, err := NewObjective(bad).Inputs(x, B, L, rng); err == nil {
		t.Fatal("unknown mode accepted")
	}
}

// TestLoadModelPaths: LoadModel reads a checkpoint directory or a run
// directory's checkpoint/, with the EMA weights only when asked and
// present.
func TestLoadModelPaths(t *testing.T) {
	run := t.TempDir()
	cfg := tinyConfig(ModeMDLM)
	p := InitParams(cfg, 1)
	ema := slices.Clone(p)
	ema[0] += 1
	ck := &Checkpoint{Config: cfg, Params: p, EMA: ema}
	if err := ck.Save(run + "/" + CheckpointDir); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		useEMA, want bool
	}{{true, true}, {false, false}} {
		m, got, used, err := LoadModel(cpu.New(1), run, c.useEMA)
		if err != nil {
			t.Fatal(err)
		}
		w := m.ParamsHost()
		if used != c.want || got.EMA == nil || (w[0] == ema[0]) != c.want {
			t.Errorf("ema %v: used %v, first weight %v", c.useEMA, used, w[0])
		}
		m.Free()
	}
	if _, _, _, err := LoadModel(cpu.New(1), t.TempDir(), true); err == nil {
		t.Fatal("an empty directory loaded")
	}
}
