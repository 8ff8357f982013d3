package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/seqdiff/seqdiff/compute"
	"github.com/seqdiff/seqdiff/compute/cpu"
	"github.com/seqdiff/seqdiff/mdlm"
	"github.com/seqdiff/seqdiff/nn"
)

func init() { register(newBenchCmd) }

// newBenchCmd is the `seqdiff bench` group.
func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure seqdiff's speed",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newBenchTrainCmd())
	return cmd
}

type benchTrainOptions struct {
	shape   shapeOptions
	mode    string
	steps   int
	warmup  int
	batch   int
	threads int
	seed    uint64
	lr      float32
	json    bool
	profile bool
}

func newBenchTrainCmd() *cobra.Command {
	o := &benchTrainOptions{}
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Time full training steps (forward, backward, AdamW)",
		Long: `Time full training steps of the backbone on random DNA tokens (ids 7..10)
with the real loss: MDLM (antithetic t, masking with probability 1-alpha(t),
1/t weights, [MASK] banned, normalised by non-PAD tokens) or AR (shifted
targets, causal attention), then backward and an AdamW update, as
shared/reference/torch_ref.py bench does. Reports tokens/s of the median
step (batch x seq_len / step time), and the process's peak resident memory
(VmHWM). --profile syncs after every kernel and prints the time per kernel
class (it slows the step slightly).`,
		Example: `  seqdiff bench train --mode mdlm --preset dna-small --steps 5 --warmup 2
  seqdiff bench train --mode ar --preset dna-small --json
  seqdiff bench train --mode mdlm --d-model 64 --n-layers 2 --seq-len 256 --profile`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	o.shape.bind(f, "dna-small")
	f.StringVar(&o.mode, "mode", nn.ModeMDLM, "loss: mdlm or ar")
	f.IntVar(&o.steps, "steps", 5, "timed steps")
	f.IntVar(&o.warmup, "warmup", 2, "untimed steps first")
	f.IntVar(&o.batch, "batch", 8, "sequences per step")
	f.IntVar(&o.threads, "threads", 0, "CPU threads (0 = all cores)")
	f.Uint64Var(&o.seed, "seed", 0, "seed for the weights and the random batches")
	f.Float32Var(&o.lr, "lr", 3e-4, "AdamW learning rate")
	f.BoolVar(&o.json, "json", false, "print one JSON object")
	f.BoolVar(&o.profile, "profile", false, "time each kernel class (syncs after every kernel)")
	return cmd
}

// benchResult is what bench train reports (field names as torch_ref.py bench).
type benchResult struct {
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
	ProfileRows []profileJSON `json:"profile,omitempty"`
}

type profileJSON struct {
	Class   string  `json:"class"`
	Seconds float64 `json:"s_per_step"`
	Calls   int     `json:"calls_per_step"`
	Percent float64 `json:"percent"`
}

func (o *benchTrainOptions) run(stdout io.Writer) error {
	if o.mode != nn.ModeMDLM && o.mode != nn.ModeAR {
		return fmt.Errorf("--mode %q: want mdlm or ar", o.mode)
	}
	if o.steps < 1 || o.warmup < 0 || o.batch < 1 {
		return fmt.Errorf("--steps must be >= 1, --warmup >= 0 and --batch >= 1")
	}
	cfg, err := o.shape.resolve(o.mode)
	if err != nil {
		return err
	}
	cb := cpu.New(o.threads)
	var be compute.Backend = cb
	var prof *nn.Profiler
	if o.profile {
		prof = nn.NewProfiler(cb)
		be = prof
	}
	model, err := nn.New(be, cfg)
	if err != nil {
		return err
	}
	model.Init(o.seed)
	model.EnableTraining()
	ocfg := nn.DefaultAdamW()
	ocfg.LR, ocfg.ClipNorm = o.lr, 0 // as the reference: plain AdamW, no clipping
	opt := nn.NewOptimizer(model, ocfg)
	rng := rand.New(rand.NewPCG(o.seed, 1))
	B, L := o.batch, cfg.SeqLen
	x0 := make([]int32, B*L)
	vocab := mdlm.Vocab{Size: cfg.VocabSize, Mask: int32(cfg.MaskID), Pad: int32(cfg.PadID)}
	sched := mdlm.LogLinear{Eps: nn.MDLMEps}
	tb := make([]float32, B)
	var batch mdlm.Batch
	var times []float64
	var loss float64
	for step := 0; step < o.warmup+o.steps; step++ {
		for i := range x0 {
			x0[i] = 7 + int32(rng.IntN(4)) // A C G T, as torch_ref's randint(7, 11)
		}
		var li nn.LossInputs
		if o.mode == nn.ModeAR {
			li = nn.ARInputs(x0, B, L, cfg.PadID)
		} else {
			mdlm.SampleT(rng, nn.MDLMEps, tb)
			if err := mdlm.Forward(vocab, sched, x0, B, L, tb, rng, &batch); err != nil {
				return err
			}
			li = benchMDLMInputs(&batch, cfg)
		}
		if step == o.warmup && prof != nil {
			prof.Reset()
		}
		t0 := time.Now()
		if loss, err = benchTrainStep(model, opt, li, o.lr); err != nil {
			return err
		}
		if step >= o.warmup {
			times = append(times, time.Since(t0).Seconds())
		}
	}
	sorted := append([]float64(nil), times...)
	sort.Float64s(sorted)
	med := sorted[len(sorted)/2]
	if len(sorted)%2 == 0 {
		med = (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]) / 2
	}
	res := benchResult{
		Impl: "seqdiff-" + version, Backend: cb.Name(), Mode: o.mode, Params: model.NumParams(),
		Batch: B, SeqLen: L, DModel: cfg.DModel, NLayers: cfg.NLayers, NHeads: cfg.NHeads,
		Threads: cb.Threads(), Steps: o.steps, StepMedian: med, StepMin: sorted[0],
		TokensPerS: float64(B*L) / med, PeakRSSMiB: benchPeakRSSMiB(), FinalLoss: loss,
	}
	if prof != nil {
		var total time.Duration
		for _, r := range prof.Rows() {
			total += r.Time
		}
		for _, r := range prof.Rows() {
			res.ProfileRows = append(res.ProfileRows, profileJSON{Class: r.Class,
				Seconds: r.Time.Seconds() / float64(o.steps), Calls: r.Calls / o.steps,
				Percent: 100 * r.Time.Seconds() / total.Seconds()})
		}
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		return enc.Encode(res)
	}
	fmt.Fprintf(stdout, "%s %s: %d params, batch %d x %d, %s\n", res.Impl, o.mode, res.Params, B, L, res.Backend)
	fmt.Fprintf(stdout, "step %.3f s median (%.3f min) over %d steps; %.0f tokens/s; peak RSS %.0f MiB; loss %.4f\n",
		med, sorted[0], o.steps, res.TokensPerS, res.PeakRSSMiB, loss)
	for _, r := range res.ProfileRows {
		fmt.Fprintf(stdout, "  %-14s %8.4f s/step %5.1f%% %5d calls/step\n", r.Class, r.Seconds, r.Percent, r.Calls)
	}
	return nil
}

// benchMDLMInputs turns an MDLM batch (z_t, x0 targets, w(t) at masked
// non-PAD positions, 0 elsewhere) into the model's loss inputs, with the
// [MASK] logit banned (SUBS).
func benchMDLMInputs(b *mdlm.Batch, cfg nn.Config) nn.LossInputs {
	return nn.LossInputs{Input: b.Input, Targets: b.Targets, Weights: b.Weights, B: b.B, T: b.L,
		Ignore: nn.IgnoreTarget, Banned: cfg.MaskID, Norm: float64(b.Norm)}
}

// benchTrainStep is one full training step: forward, loss, backward, AdamW.
func benchTrainStep(model *nn.Model, opt *nn.Optimizer, li nn.LossInputs, lr float32) (float64, error) {
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
