package nn

import (
	"fmt"
	"math"

	"github.com/seqdiff/seqdiff/compute"
)

// AdamWConfig holds the optimiser's hyper-parameters.
type AdamWConfig struct {
	LR          float32 // learning rate (a schedule passes its own lr to Step)
	Beta1       float32
	Beta2       float32
	Eps         float32
	WeightDecay float32 // decoupled; applied only to Tensor.Decay tensors. Default 0.
	ClipNorm    float64 // global gradient-norm clip; 0 = off
	EMADecay    float32 // EMA of the weights; 0 = off
}

// DefaultAdamW is lr 3e-4, betas (0.9, 0.999), eps 1e-8, no weight decay,
// clipping at global norm 1, no EMA.
func DefaultAdamW() AdamWConfig {
	return AdamWConfig{LR: 3e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, ClipNorm: 1}
}

// Optimizer is AdamW state for one model: first and second moments (and
// the EMA of the weights when on) in the model's parameter layout.
type Optimizer struct {
	Cfg  AdamWConfig
	Step int // number of updates applied; bias correction uses Step+1

	be   compute.Backend
	m, v compute.F32
	ema  compute.F32 // N == 0 when EMA is off
	runs []paramRun  // maximal runs of tensors sharing the decay flag
}

type paramRun struct {
	off, n int
	decay  bool
}

// NewOptimizer allocates zeroed moments for model (and the EMA, starting
// at the current weights, if cfg.EMADecay > 0).
func NewOptimizer(model *Model, cfg AdamWConfig) *Optimizer {
	be := model.Backend()
	o := &Optimizer{Cfg: cfg, be: be}
	n := model.NumParams()
	o.m, o.v = be.Alloc(n), be.Alloc(n)
	if cfg.EMADecay > 0 {
		o.ema = be.Alloc(n)
		be.Copy(o.ema, model.Params())
	}
	for _, t := range model.Table {
		if k := len(o.runs) - 1; k >= 0 && o.runs[k].decay == t.Decay && o.runs[k].off+o.runs[k].n == t.Offset {
			o.runs[k].n += t.Size
			continue
		}
		o.runs = append(o.runs, paramRun{off: t.Offset, n: t.Size, decay: t.Decay})
	}
	return o
}

// Free releases the optimiser's backend memory.
func (o *Optimizer) Free() {
	o.be.Free(o.m)
	o.be.Free(o.v)
	if o.ema.N != 0 {
		o.be.Free(o.ema)
	}
}

// Moments are the first and second moment buffers (layout: the model's Table).
func (o *Optimizer) Moments() (m, v compute.F32) { return o.m, o.v }

// EMA is the EMA buffer (empty when EMA is off).
func (o *Optimizer) EMA() compute.F32 { return o.ema }

// StepStats reports one optimiser step.
type StepStats struct {
	GradNorm float64 // global L2 norm of the gradients before clipping
	Clipped  bool
	Skipped  bool // the norm was NaN or Inf: nothing was updated
}

// Update applies one AdamW step with learning rate lr to model from its
// gradients: the global gradient norm is computed first; a NaN or Inf norm
// skips the step (weights, moments, EMA and Step unchanged) and says so;
// a norm above ClipNorm scales the gradients down to it. The gradients
// are left as they are (the caller zeroes them before the next backward).
func (o *Optimizer) Update(model *Model, lr float32) (StepStats, error) {
	g := model.Grads()
	if g.N == 0 {
		return StepStats{}, fmt.Errorf("optimizer: model has no gradients (EnableTraining)")
	}
	if g.N != o.m.N {
		return StepStats{}, fmt.Errorf("optimizer: model has %d parameters, optimizer %d", g.N, o.m.N)
	}
	ss := o.be.SumSquares(g, g.N)
	st := StepStats{GradNorm: math.Sqrt(ss)}
	if math.IsNaN(st.GradNorm) || math.IsInf(st.GradNorm, 0) {
		st.Skipped = true
		return st, nil
	}
	if o.Cfg.ClipNorm > 0 && st.GradNorm > o.Cfg.ClipNorm {
		o.be.Scale(g, g.N, float32(o.Cfg.ClipNorm/st.GradNorm))
		st.Clipped = true
	}
	o.Step++
	p := model.Params()
	c := o.Cfg
	for _, r := range o.runs {
		wd := float32(0)
		if r.decay {
			wd = c.WeightDecay
		}
		o.be.AdamW(p.Slice(r.off, r.n), g.Slice(r.off, r.n), o.m.Slice(r.off, r.n), o.v.Slice(r.off, r.n),
			r.n, lr, c.Beta1, c.Beta2, c.Eps, wd, o.Step)
	}
	if o.ema.N != 0 {
		o.be.EMA(o.ema, p, p.N, c.EMADecay)
	}
	return st, o.be.Sync()
}
