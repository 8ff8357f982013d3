package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/seqdiff/seqdiff/compute/cpu"
	"github.com/seqdiff/seqdiff/mdlm"
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

// TestRowsAccumulate: the losses and gradients of a batch's micro-batches
// (LossInputs.Rows, one ZeroGrad, Backward after each) add up to those of
// the whole batch, in every mode and with time conditioning, on rows with
// uneven PAD (so a per-micro-batch normaliser would show).
func TestRowsAccumulate(t *testing.T) {
	const B, L = 4, 16
	for _, c := range []struct {
		mode string
		cond bool
	}{{ModeMDLM, false}, {ModeMDLM, true}, {ModeAR, false}, {ModeMLM, false}} {
		cfg := tinyConfig(c.mode)
		cfg.TimeConditioning = c.cond
		x := tinyBatch(B, L, 6)
		for i := L / 4; i < L; i++ {
			x[i] = vocab.Pad // row 0: three quarters PAD
		}
		x[2*L-1] = vocab.Pad
		m, err := New(cpu.New(2), cfg)
		if err != nil {
			t.Fatal(err)
		}
		m.Init(5)
		m.EnableTraining()
		li, err := NewObjective(cfg).Inputs(x, B, L, rand.New(rand.NewPCG(2, 2)))
		if err != nil {
			t.Fatal(err)
		}
		grads := func(parts int) (float64, []float32) {
			m.ZeroGrad()
			var loss float64
			for k := range parts {
				l, err := m.Loss(li.Rows(k*B/parts, B/parts), nil, true)
				if err != nil {
					t.Fatal(err)
				}
				loss += l
				if err := m.Backward(); err != nil {
					t.Fatal(err)
				}
			}
			return loss, slices.Clone(m.Grads().Host)
		}
		whole, gw := grads(1)
		split, gs := grads(2)
		var gmax, dmax float64
		for i := range gw {
			gmax = math.Max(gmax, math.Abs(float64(gw[i])))
			dmax = math.Max(dmax, math.Abs(float64(gw[i]-gs[i])))
		}
		name := c.mode + map[bool]string{true: " time-conditioned"}[c.cond]
		if math.Abs(whole-split) > 1e-6*whole || !(dmax <= 1e-5*gmax) {
			t.Errorf("%s: whole batch loss %.8f, two micro-batches %.8f; max gradient difference %.3g of %.3g", name, whole, split, dmax, gmax)
		}
		m.Free()
	}
}

// TestObjectiveTimeSampling: Inputs draws MDLM's times by TimeSampling:
// one per row within its stratum by default, the old evenly spaced times
// when systematic, and an unknown scheme is an error.
func TestObjectiveTimeSampling(t *testing.T) {
	const B, L = 8, 4
	x := tinyBatch(B, L, 3)
	obj := NewObjective(tinyConfig(ModeMDLM))
	li, err := obj.Inputs(x, B, L, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	for b, tb := range li.Time {
		if lo := mdlm.DefaultEps + (1-mdlm.DefaultEps)*float64(b)/B; float64(tb) < lo-1e-6 || float64(tb) > lo+(1-mdlm.DefaultEps)/B+1e-6 {
			t.Fatalf("stratified: t[%d] = %v outside its stratum", b, tb)
		}
	}
	obj.TimeSampling = mdlm.Systematic
	li, err = obj.Inputs(x, B, L, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	s := slices.Clone(li.Time)
	slices.Sort(s)
	for i := 1; i < B; i++ {
		if gap := float64(s[i] - s[i-1]); math.Abs(gap-(1-mdlm.DefaultEps)/B) > 1e-6 {
			t.Fatalf("systematic times %v are not evenly spaced", s)
		}
	}
	obj.TimeSampling = "antithetic"
	if _, err := obj.Inputs(x, B, L, rand.New(rand.NewPCG(1, 1))); err == nil {
		t.Fatal("unknown time sampling accepted")
	}
}
