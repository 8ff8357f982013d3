//go:build linux && (amd64 || arm64)

package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/seqdiff/seqdiff/compute"
	"github.com/seqdiff/seqdiff/nn"
)

// Whole-model parity: the same nn.Model, weights and batches on this
// backend and on compute/cpu.

// patternBatch is B rows of T+1 DNA tokens from a few periodic motifs with
// 5% noise: learnable, so a loss curve falls, and never constant.
func patternBatch(r *rand.Rand, B, T int) []int32 {
	x := make([]int32, B*T)
	for b := 0; b < B; b++ {
		period := 2 + r.IntN(5)
		motif := make([]int32, period)
		for i := range motif {
			motif[i] = 7 + int32(r.IntN(4))
		}
		for t := 0; t < T; t++ {
			v := motif[t%period]
			if r.Float64() < 0.05 {
				v = 7 + int32(r.IntN(4))
			}
			x[b*T+t] = v
		}
	}
	return x
}

// lossInputs draws a batch of cfg's objective through nn.Objective, the
// path training takes: AR rows one longer, so that both read L positions.
func lossInputs(t *testing.T, cfg nn.Config, r *rand.Rand, B, L int) nn.LossInputs {
	t.Helper()
	n := L
	if cfg.Mode == nn.ModeAR {
		n++
	}
	li, err := nn.NewObjective(cfg).Inputs(patternBatch(r, B, n), B, n, r)
	if err != nil {
		t.Fatal(err)
	}
	return li
}

func download(t *testing.T, be compute.Backend, x compute.F32) []float32 {
	t.Helper()
	out := make([]float32, x.N)
	be.Download(out, x)
	if err := be.Sync(); err != nil {
		t.Fatal(err)
	}
	return out
}

func newPair(t *testing.T, g *Backend, cfg nn.Config, seed uint64) (mc, mg *nn.Model) {
	t.Helper()
	var err error
	if mc, err = nn.New(ref(), cfg); err != nil {
		t.Fatal(err)
	}
	if mg, err = nn.New(g, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mg.Free)
	mc.Init(seed)
	mg.Init(seed)
	mc.EnableTraining()
	mg.EnableTraining()
	return mc, mg
}

// TestTrainStepParity: one full step (forward, loss, backward, AdamW with
// clipping) gives the same loss, gradients and updated weights; also for
// MDLM with time conditioning (DiT adaLN), its zero-initialised modulation
// perturbed so that every gate and scale is live.
func TestTrainStepParity(t *testing.T) {
	g := gpu(t)
	for _, name := range []string{nn.ModeMDLM, nn.ModeAR, "mdlm-timecond"} {
		mode, tc := name, name == "mdlm-timecond"
		if tc {
			mode = nn.ModeMDLM
		}
		t.Run(name, func(t *testing.T) {
			cfg := nn.DefaultConfig(12, 64, 2, 4, 96, mode)
			cfg.TimeConditioning = tc
			mc, mg := newPair(t, g, cfg, 1)
			if tc {
				p := nn.InitParams(cfg, 1)
				r := rand.New(rand.NewPCG(5, 5))
				for i := range p {
					p[i] += float32(0.05 * r.NormFloat64())
				}
				if err := mc.SetParams(p); err != nil {
					t.Fatal(err)
				}
				if err := mg.SetParams(p); err != nil {
					t.Fatal(err)
				}
			}
			const B = 4
			li := lossInputs(t, cfg, rand.New(rand.NewPCG(2, 2)), B, cfg.SeqLen)
			ocfg := nn.DefaultAdamW()
			ocfg.WeightDecay, ocfg.EMADecay = 0.1, 0.99
			oc, og := nn.NewOptimizer(mc, ocfg), nn.NewOptimizer(mg, ocfg)
			defer og.Free()
			lc, err := mc.Loss(li, nil, true)
			if err != nil {
				t.Fatal(err)
			}
			lg, err := mg.Loss(li, nil, true)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(lg-lc) > 1e-5*math.Abs(lc) {
				t.Errorf("loss gpu %.8g cpu %.8g", lg, lc)
			}
			for _, m := range []*nn.Model{mc, mg} {
				m.ZeroGrad()
				if err := m.Backward(); err != nil {
					t.Fatal(err)
				}
			}
			gc, gg := download(t, mc.Backend(), mc.Grads()), download(t, g, mg.Grads())
			same(t, mode+" gradients", gg, gc, 1e-4)
			for _, tn := range mc.Table { // each tensor, so a wrong one is named
				if e := relErr(gg[tn.Offset:tn.Offset+tn.Size], gc[tn.Offset:tn.Offset+tn.Size]); e > 1e-3 {
					t.Errorf("%s gradient of %s: relative error %.3g", mode, tn.Name, e)
				}
			}
			sc, err := oc.Update(mc, 1e-3)
			if err != nil {
				t.Fatal(err)
			}
			sg, err := og.Update(mg, 1e-3)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(sc.GradNorm-sg.GradNorm) > 1e-4*sc.GradNorm {
				t.Errorf("grad norm gpu %v cpu %v", sg.GradNorm, sc.GradNorm)
			}
			same(t, mode+" updated weights", mg.ParamsHost(), mc.ParamsHost(), 1e-5)
			same(t, mode+" ema", download(t, g, og.EMA()), download(t, mc.Backend(), oc.EMA()), 1e-5)
		})
	}
}

// TestTrainCurveParity: 200 steps on the same batches; the GPU loss curve
// follows the CPU one (float32 rounding differences grow slowly through
// training) and both learn.
func TestTrainCurveParity(t *testing.T) {
	g := gpu(t)
	for _, mode := range []string{nn.ModeAR, nn.ModeMDLM} {
		t.Run(mode, func(t *testing.T) {
			cfg := nn.DefaultConfig(12, 64, 2, 4, 128, mode)
			mc, mg := newPair(t, g, cfg, 3)
			ocfg := nn.DefaultAdamW()
			ocfg.LR = 1e-3
			oc, og := nn.NewOptimizer(mc, ocfg), nn.NewOptimizer(mg, ocfg)
			defer og.Free()
			r := rand.New(rand.NewPCG(4, 4))
			const steps, B = 200, 8
			var first, lastC, lastG, worst float64
			for s := 0; s < steps; s++ {
				li := lossInputs(t, cfg, r, B, cfg.SeqLen)
				var ls [2]float64
				for k, p := range []struct {
					m *nn.Model
					o *nn.Optimizer
				}{{mc, oc}, {mg, og}} {
					l, err := p.m.Loss(li, nil, true)
					if err != nil {
						t.Fatal(err)
					}
					p.m.ZeroGrad()
					if err := p.m.Backward(); err != nil {
						t.Fatal(err)
					}
					if _, err := p.o.Update(p.m, 1e-3); err != nil {
						t.Fatal(err)
					}
					ls[k] = l
				}
				d := math.Abs(ls[1]-ls[0]) / math.Abs(ls[0])
				worst = math.Max(worst, d)
				if d > 2e-2 {
					t.Fatalf("step %d: loss gpu %.6g cpu %.6g (relative %.3g)", s, ls[1], ls[0], d)
				}
				if s == 0 {
					first = ls[0]
				}
				// mean of the last 20 steps
				if s >= steps-20 {
					lastC += ls[0] / 20
					lastG += ls[1] / 20
				}
			}
			t.Logf("%s: loss %.4f -> cpu %.4f gpu %.4f over %d steps; worst step difference %.2g relative",
				mode, first, lastC, lastG, steps, worst)
			if math.Abs(lastG-lastC) > 5e-3*lastC {
				t.Errorf("final mean loss gpu %.5f cpu %.5f", lastG, lastC)
			}
			if lastC > 0.8*first {
				t.Errorf("cpu loss %.4f -> %.4f: the model did not learn, the comparison says little", first, lastC)
			}
		})
	}
}

func ExampleNew() {
	be, err := New(Options{TF32: false})
	if err != nil {
		fmt.Println("no GPU:", err != nil)
		return
	}
	defer be.Close()
	x := be.Alloc(4)
	be.Upload(x, []float32{1, 2, 3, 4})
	be.Scale(x, 4, 0.5)
	out := make([]float32, 4)
	be.Download(out, x)
	if err := be.Sync(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("no GPU:", false)
	_ = out // [0.5 1 1.5 2]
}

// TestDenoiserAtParity: the sampler's and the evaluator's device-side
// paths (logits gathered by position, log-probabilities from the fused
// cross-entropy) give on the GPU what the CPU gives.
func TestDenoiserAtParity(t *testing.T) {
	g := gpu(t)
	cfg := nn.DefaultConfig(12, 32, 2, 4, 16, nn.ModeMDLM)
	mc, mg := newPair(t, g, cfg, 5)
	B, L, V := 2, 16, cfg.VocabSize
	r := rand.New(rand.NewPCG(8, 8))
	z := make([]int32, B*L)
	for i := range z {
		z[i] = 7 + int32(r.IntN(4))
		if r.IntN(2) == 0 {
			z[i] = int32(cfg.MaskID)
		}
	}
	tm := []float32{0.4, 0.9}
	pos, targets := []int32{3, 30, 0, 17}, []int32{7, 10, 9, 8}
	var at [2][]float32
	var lp [2][]float64
	for k, m := range []*nn.Model{mc, mg} {
		d := nn.Denoiser{M: m}
		at[k] = make([]float32, len(pos)*V)
		lp[k] = make([]float64, len(pos))
		if err := d.LogitsAt(z, B, L, tm, pos, at[k]); err != nil {
			t.Fatal(err)
		}
		if err := d.LogProbsAt(z, B, L, tm, pos, targets, lp[k]); err != nil {
			t.Fatal(err)
		}
	}
	same(t, "LogitsAt", at[1], at[0], f32Tol)
	for j := range pos {
		if math.Abs(lp[1][j]-lp[0][j]) > 1e-5 {
			t.Errorf("LogProbsAt position %d: gpu %v cpu %v", pos[j], lp[1][j], lp[0][j])
		}
	}
}
