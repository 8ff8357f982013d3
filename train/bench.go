package train

import (
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/seqdiff/seqdiff/compute"
	"github.com/seqdiff/seqdiff/compute/backend"
	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/vocab"
)

// BenchTrainOptions configure BenchTrain.
type BenchTrainOptions struct {
	Batch        int     // sequences per step
	TimedSteps   int     // steps timed (the median is reported)
	UntimedSteps int     // steps run first, untimed
	LR           float32 // AdamW learning rate (no clipping, as the reference)
	Seed         uint64  // weights, random batches and masking
	Profile      bool    // time each kernel class (syncs after every kernel)
	Data         string  // prep directory to draw real batches from ("": random bases)
	LogEvery     int     // with Data: train and valid loss every this many steps
	Impl         string  // the "impl" field of the result
	Log          io.Writer
}

// BenchTrainResult is what `seqdiff bench train` reports (field names as
// shared/reference/torch_ref.py bench).
type BenchTrainResult struct {
	Impl        string        `json:"impl"`
	Backend     string        `json:"backend"`
	Mode        string        `json:"mode"`
	Params      int           `json:"params"`
	Batch       int           `json:"batch"`
	SeqLen      int           `json:"seq_len"`
	DModel      int           `json:"d_model"`
	NLayers     int           `json:"n_layers"`
	NHeads      int           `json:"n_heads"`
	Threads     int           `json:"threads"`
	Steps       int           `json:"steps"`
	StepMedian  float64       `json:"step_s_median"`
	StepMin     float64       `json:"step_s_min"`
	TokensPerS  float64       `json:"tokens_per_s"`
	PeakRSSMiB  float64       `json:"peak_rss_mib"`
	FinalLoss   float64       `json:"final_loss"`
	ProfileRows []ProfileJSON `json:"profile,omitempty"`
}

// ProfileJSON is one kernel class of a profiled step.
type ProfileJSON struct {
	Class   string  `json:"class"`
	Seconds float64 `json:"s_per_step"`
	Calls   int     `json:"calls_per_step"`
	Percent float64 `json:"percent"`
	GFlops  float64 `json:"gflop_per_s,omitempty"`
}

// BenchTrain times full training steps (forward, loss, backward, AdamW) of
// a fresh model of configuration cfg on be, with batches built by
// nn.Objective as training builds them: random bases (A, C, G, T, as
// torch_ref's randint(7, 11)) or, with o.Data, rows of that prep
// directory's train split, the train and a fixed valid batch's loss then
// logged every o.LogEvery steps to o.Log.
func BenchTrain(be compute.Backend, cfg nn.Config, o BenchTrainOptions) (BenchTrainResult, error) {
	var res BenchTrainResult
	if o.TimedSteps < 1 || o.UntimedSteps < 0 || o.Batch < 1 {
		return res, fmt.Errorf("bench train: timed steps %d, untimed %d, batch %d", o.TimedSteps, o.UntimedSteps, o.Batch)
	}
	base := be
	var prof *nn.Profiler
	if o.Profile {
		prof = nn.NewProfiler(be)
		be = prof
	}
	model, err := nn.New(be, cfg)
	if err != nil {
		return res, err
	}
	defer model.Free()
	model.Init(o.Seed)
	model.EnableTraining()
	ocfg := nn.DefaultAdamW()
	ocfg.LR, ocfg.ClipNorm = o.LR, 0
	opt := nn.NewOptimizer(model, ocfg)
	defer opt.Free()
	rng := rand.New(rand.NewPCG(o.Seed, 1))
	B, L := o.Batch, cfg.SeqLen
	var stream Stream
	var valid []int32
	if o.Data != "" {
		data, err := OpenData(o.Data, B, o.Seed, cfg.Tokenizer == vocab.DNATokenizer)
		if err != nil {
			return res, err
		}
		if err := CheckData(cfg, o.Data, data.VocabSize, data.MaskID, data.PadID, data.SeqLen); err != nil {
			return res, err
		}
		if data.Valid == nil {
			return res, fmt.Errorf("prep dir %s: valid split is empty", o.Data)
		}
		L = data.SeqLen
		if stream, err = data.Train(dataprep.Cursor{}); err != nil {
			return res, err
		}
		valid = make([]int32, B*L)
		data.Valid.ReadRows(valid, 0)
	}
	obj := nn.NewObjective(cfg)
	x0 := make([]int32, B*L)
	logged := func(step int, trainLoss string) error {
		// A fixed t and mask (mdlm) so that successive values compare.
		li, err := nn.NewObjective(cfg).Inputs(valid, B, L, rand.New(rand.NewPCG(12345, 6789)))
		if err != nil {
			return err
		}
		vl, err := model.Loss(li, nil, false)
		if err != nil {
			return err
		}
		fmt.Fprintf(o.Log, "step %5d  %-17s  valid loss %.4f\n", step, trainLoss, vl)
		return nil
	}
	if stream != nil && o.Log != nil {
		if err := logged(0, ""); err != nil {
			return res, err
		}
	}
	var times []float64
	var loss, sum float64
	var n int
	for step := 0; step < o.UntimedSteps+o.TimedSteps; step++ {
		if stream != nil {
			if err := stream.Next(x0); err != nil {
				return res, err
			}
		} else {
			for i := range x0 {
				x0[i] = vocab.Bases[rng.IntN(len(vocab.Bases))]
			}
		}
		li, err := obj.Inputs(x0, B, L, rng)
		if err != nil {
			return res, err
		}
		if step == o.UntimedSteps && prof != nil {
			prof.Reset()
		}
		t0 := time.Now()
		if loss, err = benchStep(model, opt, li, o.LR); err != nil {
			return res, err
		}
		if step >= o.UntimedSteps {
			times = append(times, time.Since(t0).Seconds())
		}
		sum, n = sum+loss, n+1
		if done := step + 1; stream != nil && o.Log != nil && o.LogEvery > 0 && (done%o.LogEvery == 0 || done == o.UntimedSteps+o.TimedSteps) {
			if err := logged(done, fmt.Sprintf("train loss %.4f", sum/float64(n))); err != nil {
				return res, err
			}
			sum, n = 0, 0
		}
	}
	slices.Sort(times)
	med := median(times)
	res = BenchTrainResult{Impl: o.Impl, Backend: base.Name(), Mode: cfg.Mode, Params: model.NumParams(),
		Batch: B, SeqLen: L, DModel: cfg.DModel, NLayers: cfg.NLayers, NHeads: cfg.NHeads,
		Steps: o.TimedSteps, StepMedian: med, StepMin: times[0], TokensPerS: float64(B*L) / med,
		PeakRSSMiB: peakRSSMiB(), FinalLoss: loss}
	res.Threads = backend.Threads(base)
	if prof != nil {
		var total time.Duration
		for _, r := range prof.Rows() {
			total += r.Time
		}
		for _, r := range prof.Rows() {
			res.ProfileRows = append(res.ProfileRows, ProfileJSON{Class: r.Class,
				Seconds: r.Time.Seconds() / float64(o.TimedSteps), Calls: r.Calls / o.TimedSteps,
				Percent: 100 * r.Time.Seconds() / total.Seconds(), GFlops: r.Flops / r.Time.Seconds() / 1e9})
		}
	}
	return res, nil
}

// String is the result as `seqdiff bench train` prints it.
func (r BenchTrainResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d params, batch %d x %d, %s\n", r.Impl, r.Mode, r.Params, r.Batch, r.SeqLen, r.Backend)
	fmt.Fprintf(&b, "step %.3f s median (%.3f min) over %d steps; %.0f tokens/s; peak RSS %.0f MiB; loss %.4f\n",
		r.StepMedian, r.StepMin, r.Steps, r.TokensPerS, r.PeakRSSMiB, r.FinalLoss)
	for _, p := range r.ProfileRows {
		fmt.Fprintf(&b, "  %-14s %8.4f s/step %5.1f%% %5d calls/step", p.Class, p.Seconds, p.Percent, p.Calls)
		if p.GFlops > 0 {
			fmt.Fprintf(&b, " %7.1f GFLOP/s", p.GFlops)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// benchStep is one full training step: forward, loss, backward, AdamW.
func benchStep(model *nn.Model, opt *nn.Optimizer, li nn.LossInputs, lr float32) (float64, error) {
	if li.Norm == 0 {
		return 0, nil // nothing to learn from (all PAD): skipped, never NaN
	}
	loss, err := model.Loss(li, nil, true)
	if err != nil {
		return 0, err
	}
	model.ZeroGrad()
	if err := model.Backward(); err != nil {
		return 0, err
	}
	st, err := opt.Update(model, lr)
	if err != nil {
		return 0, err
	}
	if st.Skipped {
		return loss, fmt.Errorf("step %d: gradient norm %v: update skipped", opt.Step+1, st.GradNorm)
	}
	return loss, nil
}

// median of sorted xs.
func median(xs []float64) float64 {
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}
