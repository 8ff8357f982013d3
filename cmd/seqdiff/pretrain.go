package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/seqdiff/seqdiff/compute/backend"
	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/dist"
	"github.com/seqdiff/seqdiff/mdlm"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/train"
	"github.com/seqdiff/seqdiff/vocab"
)

func init() { register(newPretrainCmd) }

type pretrainOptions struct {
	cfg        train.Config
	configFile string
	timeBudget string
	resume     bool
	dev        deviceFlags
	checkEvery int // --check-every (MPI)
}

func newPretrainCmd() *cobra.Command {
	o := &pretrainOptions{cfg: train.Default()}
	cmd := &cobra.Command{
		Use:   "pretrain",
		Short: "Pre-train the backbone by MLM, MDLM or AR on a prep directory",
		Long: `Pre-train the shared transformer on the train split of a prep directory
(seqdiff prep) by one objective: mlm (BERT/Caduceus 15% masking), mdlm (masked
diffusion, continuous time, log-linear schedule) or ar (next token, causal).

AdamW with a linear warm-up then a cosine decay to --min-lr-frac of --lr over
the schedule's horizon (--max-steps, or --max-tokens / tokens per step; a
--time-budget beside them is only a stop), gradient clipping at 1, and an EMA
of the weights (ema.safetensors; eval and sample use it when present).

With a --time-budget alone the schedule is warmup-stable-decay: the warm-up,
then constant at --lr until (1 - --decay-frac) of the budget is spent (training
time, across resumes); then the steps that fit in the rest of the budget at
this process's measured time per step (evaluations and checkpoints included)
decay linearly to --min-lr-frac of --lr, and the run stops when that decay is
complete; a run that slows down stops anyway at (1 + --decay-frac) x the
budget. The checkpoint records where the decay began and its length, so a
resume continues it exactly; before it the rate depends on the step alone.

Every --eval-every steps the valid split is scored (ar: exact NLL; mdlm: NELBO
with --eval-samples draws; mlm: masked CE), every --ckpt-every steps and at the
end RUNDIR/checkpoint is replaced atomically. RUNDIR/metrics.jsonl gets one
JSON line per step.

A step trains on --accum micro-batches of --batch rows (gradient
accumulation: the step of one batch of accum x batch rows, with the memory of
--batch; steps, the schedule and --max-tokens count optimizer steps). mdlm
draws one time t per row of a step, each in its own stratum of [eps, 1]
(--t-sampling stratified, the MDLM reference's); systematic is one shared draw
spaced evenly over the rows, as older seqdiff runs trained, iid independent.

A step whose loss or gradient norm is not finite is skipped; --max-bad-steps
of them in a row stop the run without touching the last checkpoint. SIGINT or
SIGTERM finishes the current step, checkpoints and exits non-zero (a second
signal quits at once); --resume continues exactly (bit-identical weights for
the same seed and --threads), also after a SIGKILL, from the last checkpoint.
RUNDIR/LOCK keeps a second run off the directory while this one lives.
Flags override the --config YAML file (keys as in RUNDIR/train.yaml); with
--resume the run's train.yaml is the base instead (a --max-steps or
--max-tokens given on resume moves the schedule's horizon, or replaces a
budget-only run's decay by the cosine, so the run is then no longer the
uninterrupted one). The EMA decay is warmed up as
min(--ema, (1+n)/(10+n)) at update n so that short runs average recent
weights, not the initialisation.

Started by mpirun or srun (an MPI launcher), the ranks train data-parallel
on CPU: --batch is the global batch (a multiple of the ranks), each rank runs
its share of every step's rows, the gradients are summed with MPI_Allreduce,
rank 0 alone writes the run dir, and the ranks compare their weights every
--check-every steps (docs/distributed.md).`,
		Example: `  seqdiff pretrain --mode mdlm --data prep/chr20 --out runs/mdlm --preset dna-small --max-steps 2000
  mpirun -np 4 seqdiff pretrain --mode mdlm --data prep/chr20 --out runs/mdlm --batch 32 --max-steps 2000
  seqdiff pretrain --mode ar --data prep/chr20 --out runs/ar --max-steps 5000 --time-budget 90m --threads 1
  seqdiff pretrain --mode ar --data prep/chr20 --out runs/ar-3m --time-budget 3m
  seqdiff pretrain --out runs/ar --data prep/chr20 --resume
  seqdiff pretrain --config configs/chr20-mdlm.yaml`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{cleanStop: "yes"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd.Flags(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	c := &o.cfg
	f.StringVar(&o.configFile, "config", "", "training configuration YAML (unknown keys are errors); flags override it")
	f.BoolVar(&o.resume, "resume", false, "continue the run in --out from its checkpoint")
	choiceVar(cmd, &c.Mode, "mode", c.Mode, []string{nn.ModeMLM, nn.ModeMDLM, nn.ModeAR}, "objective")
	f.StringVar(&c.Data, "data", "", "prep directory (seqdiff prep)")
	f.StringVarP(&c.Out, "out", "o", "", "run directory")
	choiceVar(cmd, &c.Preset, "preset", c.Preset, nn.PresetNames(), "model shape (override with --d-model etc.)")
	f.IntVar(&c.DModel, "d-model", 0, "model width (overrides the preset)")
	f.IntVar(&c.NLayers, "n-layers", 0, "blocks (overrides the preset)")
	f.IntVar(&c.NHeads, "n-heads", 0, "attention heads (overrides the preset)")
	f.IntVar(&c.SeqLen, "seq-len", 0, "context length (0: the prep directory's row length)")
	f.BoolVar(&c.TimeConditioning, "time-conditioning", false, "mdlm: condition the model on the diffusion time t (MDLM's time_conditioning, DiT adaLN)")
	f.IntVar(&c.Batch, "batch", c.Batch, "sequences per forward pass (micro-batch)")
	f.IntVar(&c.Accum, "accum", c.Accum, "gradient accumulation: micro-batches of --batch rows per optimizer step")
	choiceVar(cmd, &c.TSampling, "t-sampling", c.TSampling, timeSamplings(), "mdlm: how a step draws its rows' times t")
	f.Float64Var(&c.LR, "lr", c.LR, "peak learning rate")
	f.Float64Var(&c.MinLRFrac, "min-lr-frac", c.MinLRFrac, "the cosine decays to this fraction of --lr")
	f.IntVar(&c.Warmup, "warmup", c.Warmup, "linear warm-up steps")
	f.Float64Var(&c.WeightDecay, "weight-decay", c.WeightDecay, "AdamW decoupled weight decay")
	f.Float64Var(&c.ClipNorm, "clip-norm", c.ClipNorm, "global gradient-norm clip (0: off)")
	f.Float64Var(&c.EMA, "ema", c.EMA, "EMA decay of the weights (0: off)")
	f.BoolVar(&c.RC, "rc", c.RC, "reverse-complement augmentation (DNA only; off for text corpora unless given)")
	f.IntVar(&c.MaxSteps, "max-steps", 0, "stop after this many steps (also the schedule's horizon)")
	f.Int64Var(&c.MaxTokens, "max-tokens", 0, "stop after this many non-PAD training tokens")
	f.StringVar(&o.timeBudget, "time-budget", "", "stop after this much training time, across resumes (Go duration: 90m); alone, it sets the schedule (see above)")
	f.Float64Var(&c.DecayFrac, "decay-frac", c.DecayFrac, "with --time-budget alone: the share of the budget spent in the final linear decay, in (0,1)")
	f.IntVar(&c.EvalEvery, "eval-every", c.EvalEvery, "score the valid split every this many steps (0: never)")
	f.IntVar(&c.EvalRows, "eval-rows", c.EvalRows, "valid rows scored (0: all)")
	f.IntVar(&c.EvalSamples, "eval-samples", c.EvalSamples, "mdlm: NELBO draws K per row during training")
	f.IntVar(&c.CkptEvery, "ckpt-every", c.CkptEvery, "checkpoint every this many steps (0: only at the end)")
	f.IntVar(&c.LogEvery, "log-every", c.LogEvery, "progress line on stderr every this many steps (0: none)")
	f.Uint64Var(&c.Seed, "seed", 0, "seed of the weights, the data order and the masking")
	o.dev.bind(cmd)
	f.IntVar(&c.MaxBadSteps, "max-bad-steps", c.MaxBadSteps, "stop after this many non-finite steps in a row")
	f.IntVar(&o.checkEvery, "check-every", 100, "under MPI: compare the ranks' weights checksums every this many steps (0: at the start and end only)")
	return cmd
}

func (o *pretrainOptions) run(ctx context.Context, flags *pflag.FlagSet, stderr io.Writer) (err error) {
	o.cfg.Threads = o.dev.threads
	cfg, err := o.resolve(flags)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	// Reverse complement is a DNA augmentation (on by default): for a text
	// corpus it is turned off unless --rc was asked for on the command line
	// (which the loader then refuses with a message).
	if cfg.RC && !flags.Changed("rc") {
		if m, err := dataprep.ReadManifest(cfg.Data); err == nil && m.Tokenizer != vocab.DNATokenizer {
			cfg.RC = false
		}
	}
	// The data is checked before the run dir is made, so a bad prep dir
	// leaves nothing behind; a run dir this call made is removed again if
	// the run fails while it is still empty.
	data, err := train.OpenData(cfg.Data, cfg.Batch, cfg.Seed, cfg.RC)
	if err != nil {
		return err
	}
	// Under an MPI launcher (mpirun, srun) the ranks train data-parallel:
	// rank 0 owns the run dir, the others are silent.
	comm, err := dist.Init()
	if err != nil {
		return err
	}
	if comm != nil { // also mpirun -np 1: MPI_Init wants its MPI_Finalize
		defer func() { err = endRank(ctx, comm, err) }()
	}
	if comm.Rank() != 0 {
		stderr = io.Discard
	} else {
		undo, err := newRunDir(cfg.Out)
		if err != nil {
			return err
		}
		defer func() { undo(err) }()
		unlock, err := train.Lock(cfg.Out)
		if err != nil {
			return err
		}
		defer unlock()
	}
	o.dev.threads = cfg.Threads
	be, closeBE, err := o.dev.open()
	if err != nil {
		return err
	}
	defer closeBE()
	tr, err := train.NewDist(be, cfg, data, o.resume, comm)
	if err != nil {
		return err
	}
	defer tr.Close()
	tr.Stderr = stderr
	tr.CheckEvery = o.checkEvery
	fmt.Fprintf(stderr, "pretrain %s: %d params, %s, %s, %s with %d threads, run dir %s (from step %d)\n",
		cfg.Mode, tr.Model.NumParams(), tr.BatchString(), tr.Schedule(), be.Name(), backend.Threads(be), cfg.Out, tr.Step())
	if comm.Size() > 1 {
		fmt.Fprintf(stderr, "data-parallel over %s: %d rows of each batch per rank, all-reduce of %d bytes per step%s, weights compared every %d steps\n",
			comm, cfg.Batch/comm.Size(), 4*tr.Model.NumParams(), viaDevice(comm), o.checkEvery)
	}
	why, err := tr.Run(ctx)
	return trainEnded(stderr, tr, cfg.Out, "seqdiff pretrain --out "+cfg.Out+" --resume", why, err)
}

// resolve builds the configuration: defaults, then the run's train.yaml
// (with --resume) or --config, then every flag given on the command line.
func (o *pretrainOptions) resolve(flags *pflag.FlagSet) (train.Config, error) {
	flagged := o.cfg // flag values (defaults where not given)
	cfg := train.Default()
	if o.resume {
		if flagged.Out == "" {
			return cfg, usagef("--resume needs --out RUNDIR")
		}
		y := filepath.Join(flagged.Out, train.ConfigYAML)
		if _, err := os.Stat(y); errors.Is(err, fs.ErrNotExist) {
			// Killed before its first checkpoint, or not a run directory.
			return cfg, fmt.Errorf("resume: %s has no %s, so no run to continue: start it again without --resume", flagged.Out, train.ConfigYAML)
		}
		var err error
		if cfg, err = train.ReadRunConfig(flagged.Out); err != nil {
			return cfg, fmt.Errorf("resume: %w", err)
		}
	}
	if o.configFile != "" {
		if err := cfg.ReadYAML(o.configFile); err != nil {
			return cfg, err
		}
	}
	saved := cfg
	var ferr error
	flags.Visit(func(f *pflag.Flag) {
		switch f.Name {
		case "config", "resume":
		case "time-budget":
			d, err := train.ParseDuration(o.timeBudget)
			if err != nil {
				ferr = usagef("--time-budget: %w", err)
			}
			cfg.TimeBudget = d
		default:
			copyFlag(&cfg, &flagged, f.Name)
		}
	})
	if ferr == nil && o.resume {
		ferr = sameModel(saved, cfg, filepath.Join(flagged.Out, train.ConfigYAML))
	}
	return cfg, ferr
}

// sameModel refuses a resume whose flags or --config change what the
// checkpoint's tensors or objective depend on: the run would otherwise fail
// later on a tensor-count mismatch, or silently train something else.
func sameModel(saved, cfg train.Config, yamlPath string) error {
	type field struct {
		key      string
		was, now any
	}
	for _, f := range []field{
		{"mode", saved.Mode, cfg.Mode},
		{"preset", saved.Preset, cfg.Preset},
		{"d_model", saved.DModel, cfg.DModel},
		{"n_layers", saved.NLayers, cfg.NLayers},
		{"n_heads", saved.NHeads, cfg.NHeads},
		{"seq_len", saved.SeqLen, cfg.SeqLen},
		{"time_conditioning", saved.TimeConditioning, cfg.TimeConditioning},
	} {
		if f.was != f.now {
			return fmt.Errorf("resume: %s %v differs from %v in %s: a resumed run keeps its model and objective; start a new run directory instead", f.key, f.now, f.was, yamlPath)
		}
	}
	return nil
}

// timeSamplings are the names --t-sampling takes, the default first.
func timeSamplings() []string {
	var names []string
	for _, s := range mdlm.TimeSamplings {
		names = append(names, string(s))
	}
	return names
}

// copyFlag copies the field bound to flag name from src to dst: the
// field whose yaml key is the flag's name with _ for - (every flag of
// pretrain but --config, --resume, --time-budget and --device is one).
func copyFlag(dst, src *train.Config, name string) {
	d, s := reflect.ValueOf(dst).Elem(), reflect.ValueOf(src).Elem()
	for i := range d.NumField() {
		if key, _, _ := strings.Cut(d.Type().Field(i).Tag.Get("yaml"), ","); key == strings.ReplaceAll(name, "-", "_") {
			d.Field(i).Set(s.Field(i))
		}
	}
}

// viaDevice says which library sums the gradients when it is not MPI.
func viaDevice(comm *dist.Comm) string {
	if d := comm.Device(); d != "" {
		return " with " + d
	}
	return ""
}

// endRank ends one rank of a data-parallel run: a clean end or an
// interrupt (every rank stops at the same step) finalizes MPI; any other
// error is printed with the rank and ends the whole job with MPI_Abort, so
// that no rank waits forever on one that has stopped.
func endRank(ctx context.Context, comm *dist.Comm, err error) error {
	if err == nil || ctx.Err() != nil || strings.HasPrefix(err.Error(), "interrupted at step") {
		if ferr := comm.Finalize(); err == nil {
			err = ferr
		}
		return err
	}
	fmt.Fprintf(os.Stderr, "seqdiff pretrain: rank %d of %d: %v; aborting the MPI job\n", comm.Rank(), comm.Size(), err)
	comm.Abort(1)
	return err
}
