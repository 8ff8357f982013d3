package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/seqdiff/seqdiff/compute/cpu"
	"github.com/seqdiff/seqdiff/dataprep"
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
	cmd.AddCommand(newBenchTrainCmd(), newBenchSampleCmd())
	return cmd
}

type benchTrainOptions struct {
	shape    shapeOptions
	mode     string
	steps    int
	warmup   int
	batch    int
	threads  int
	seed     uint64
	lr       float32
	json     bool
	profile  bool
	data     string
	logEvery int
	device   string
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
class (it slows the step slightly).

With --data PREPDIR the batches come from the prep directory's train split
(seqdiff prep; rows of its seq_len, shuffled per epoch) and every --log-every
steps the mean train loss and the loss on a fixed valid batch (fixed t and
mask for mdlm) are printed: a short real training run.`,
		Example: `  seqdiff bench train --mode mdlm --preset dna-small --steps 5 --warmup 2
  seqdiff bench train --mode ar --preset dna-small --json
  seqdiff bench train --mode mdlm --d-model 64 --n-layers 2 --seq-len 256 --profile
  seqdiff bench train --mode ar --data prep/demo --d-model 64 --n-layers 2 --seq-len 256 --steps 300 --lr 1e-3`,
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
	f.StringVar(&o.device, "device", "auto", deviceHelp+" (peak memory is host memory)")
	f.Uint64Var(&o.seed, "seed", 0, "seed for the weights and the random batches")
	f.Float32Var(&o.lr, "lr", 3e-4, "AdamW learning rate")
	f.BoolVar(&o.json, "json", false, "print one JSON object")
	f.BoolVar(&o.profile, "profile", false, "time each kernel class (syncs after every kernel)")
	f.StringVar(&o.data, "data", "", "train on real batches from this prep directory's train split (instead of random tokens) and log the loss")
	f.IntVar(&o.logEvery, "log-every", 20, "with --data: print the mean train loss and a fixed-batch valid loss every this many steps")
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
	GFlops  float64 `json:"gflop_per_s,omitempty"`
}

func (o *benchTrainOptions) run(stdout io.Writer) error {
	if o.mode != nn.ModeMDLM && o.mode != nn.ModeAR {
		return fmt.Errorf("--mode %q: want mdlm or ar", o.mode)
	}
	if o.steps < 1 || o.warmup < 0 || o.batch < 1 || o.logEvery < 1 {
		return fmt.Errorf("--steps and --log-every must be >= 1, --warmup >= 0 and --batch >= 1")
	}
	cfg, err := o.shape.resolve(o.mode)
	if err != nil {
		return err
	}
	base, closeBE, err := modelBackend(o.device, o.threads)
	if err != nil {
		return err
	}
	defer closeBE()
	threads := 0
	if cb, ok := base.(*cpu.Backend); ok {
		threads = cb.Threads()
	}
	be := base
	var prof *nn.Profiler
	if o.profile {
		prof = nn.NewProfiler(base)
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
	var data *benchData
	if o.data != "" {
		if data, err = openBenchData(o.data, cfg, B, o.seed); err != nil {
			return err
		}
		L = data.seqLen
	}
	x0 := make([]int32, B*L)
	vocab := mdlm.Vocab{Size: cfg.VocabSize, Mask: int32(cfg.MaskID), Pad: int32(cfg.PadID)}
	sched := mdlm.LogLinear{Eps: nn.MDLMEps}
	tb := make([]float32, B)
	var batch mdlm.Batch
	var times []float64
	var loss float64
	if data != nil {
		vl, err := data.validLoss(model, o.mode, cfg)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "step %5d  %-17s  valid loss %.4f\n", 0, "", vl)
	}
	for step := 0; step < o.warmup+o.steps; step++ {
		if data != nil {
			if err := data.train.Next(x0); err != nil {
				return err
			}
		} else {
			for i := range x0 {
				x0[i] = 7 + int32(rng.IntN(4)) // A C G T, as torch_ref's randint(7, 11)
			}
		}
		li, err := benchLossInputs(o.mode, x0, B, L, cfg, vocab, sched, tb, rng, &batch)
		if err != nil {
			return err
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
		if data != nil {
			data.sum += loss
			data.n++
			if done := step + 1; done%o.logEvery == 0 || done == o.warmup+o.steps {
				vl, err := data.validLoss(model, o.mode, cfg)
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "step %5d  train loss %.4f  valid loss %.4f\n", done, data.sum/float64(data.n), vl)
				data.sum, data.n = 0, 0
			}
		}
	}
	sorted := append([]float64(nil), times...)
	sort.Float64s(sorted)
	med := sorted[len(sorted)/2]
	if len(sorted)%2 == 0 {
		med = (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]) / 2
	}
	res := benchResult{
		Impl: "seqdiff-" + version, Backend: base.Name(), Mode: o.mode, Params: model.NumParams(),
		Batch: B, SeqLen: L, DModel: cfg.DModel, NLayers: cfg.NLayers, NHeads: cfg.NHeads,
		Threads: threads, Steps: o.steps, StepMedian: med, StepMin: sorted[0],
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
				Percent: 100 * r.Time.Seconds() / total.Seconds(), GFlops: r.Flops / r.Time.Seconds() / 1e9})
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
		fmt.Fprintf(stdout, "  %-14s %8.4f s/step %5.1f%% %5d calls/step", r.Class, r.Seconds, r.Percent, r.Calls)
		if r.GFlops > 0 {
			fmt.Fprintf(stdout, " %7.1f GFLOP/s", r.GFlops)
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

// benchLossInputs builds one batch's loss inputs for mode from clean rows x0.
func benchLossInputs(mode string, x0 []int32, B, L int, cfg nn.Config, vocab mdlm.Vocab, sched mdlm.Schedule,
	tb []float32, rng *rand.Rand, batch *mdlm.Batch) (nn.LossInputs, error) {
	if mode == nn.ModeAR {
		return nn.ARInputs(x0, B, L, cfg.PadID), nil
	}
	mdlm.SampleT(rng, nn.MDLMEps, tb)
	if err := mdlm.Forward(vocab, sched, x0, B, L, tb, rng, batch); err != nil {
		return nn.LossInputs{}, err
	}
	return benchMDLMInputs(batch, cfg), nil
}

// benchData draws training batches from a prep directory and scores a fixed
// valid batch.
type benchData struct {
	seqLen int
	train  *dataprep.Loader
	valid  []int32 // B rows of the valid split (PAD-filled if it is short)
	B      int
	sum    float64
	n      int
}

func openBenchData(dir string, cfg nn.Config, B int, seed uint64) (*benchData, error) {
	ds, err := dataprep.Open(dir)
	if err != nil {
		return nil, err
	}
	m := ds.Manifest
	if m.VocabSize > cfg.VocabSize || m.MaskID != cfg.MaskID || m.PadID != cfg.PadID {
		return nil, fmt.Errorf("prep dir %s: vocabulary %d (mask %d, pad %d) does not fit the model's %d (mask %d, pad %d)",
			dir, m.VocabSize, m.MaskID, m.PadID, cfg.VocabSize, cfg.MaskID, cfg.PadID)
	}
	if m.SeqLen > cfg.SeqLen {
		return nil, fmt.Errorf("prep dir %s: rows of %d tokens exceed the model's seq_len %d (pass --seq-len)", dir, m.SeqLen, cfg.SeqLen)
	}
	tr, err := ds.Split("train")
	if err != nil {
		return nil, err
	}
	ld, err := tr.NewLoader(dataprep.LoaderOptions{Batch: B, Seed: seed, RC: true})
	if err != nil {
		return nil, fmt.Errorf("prep dir %s: %w", dir, err)
	}
	va, err := ds.Split("valid")
	if err != nil {
		return nil, err
	}
	d := &benchData{seqLen: m.SeqLen, train: ld, valid: make([]int32, B*m.SeqLen), B: B}
	if va.ReadRows(d.valid, 0) == 0 {
		return nil, fmt.Errorf("prep dir %s: valid split is empty", dir)
	}
	return d, nil
}

// validLoss is the loss on the fixed valid batch (for mdlm with t and mask
// drawn from a fixed seed, so that successive values are comparable).
func (d *benchData) validLoss(model *nn.Model, mode string, cfg nn.Config) (float64, error) {
	rng := rand.New(rand.NewPCG(12345, 6789))
	var batch mdlm.Batch
	vocab := mdlm.Vocab{Size: cfg.VocabSize, Mask: int32(cfg.MaskID), Pad: int32(cfg.PadID)}
	li, err := benchLossInputs(mode, d.valid, d.B, d.seqLen, cfg, vocab, mdlm.LogLinear{Eps: nn.MDLMEps}, make([]float32, d.B), rng, &batch)
	if err != nil || li.Norm == 0 {
		return 0, err
	}
	return model.Loss(li, nil, false)
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
