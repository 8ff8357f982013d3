package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/seqdiff/seqdiff/dist"
	"github.com/seqdiff/seqdiff/finetune"
	"github.com/seqdiff/seqdiff/internal/atomicfile"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/train"
)

func init() { register(newFinetuneCmd) }

type finetuneOptions struct {
	from, out string
	dev       deviceFlags
	// generative
	mode, data string
	resume     bool
	gen        train.Config
	// downstream
	task, test, name, seqCol, labelCol, genome string
	seeds                                      []uint
	down                                       finetune.Options
	humanWormN, humanWormLength                int
	noRC, noBaselines                          bool
	lrs                                        []float64
	heads                                      []string
}

func newFinetuneCmd() *cobra.Command {
	o := &finetuneOptions{gen: train.Default()}
	cmd := &cobra.Command{
		Use:   "finetune",
		Short: "Fine-tune a pre-trained backbone: generatively (--mode mdlm|ar) or on a labelled task (--task)",
		Long: `Generative fine-tuning (--mode mdlm or ar, --data PREPDIR): continue training the
backbone of --from with the MDLM or AR objective through the same trainer as
seqdiff pretrain (a lower learning rate and a fresh warm-up + cosine schedule;
weights and EMA start from the checkpoint's EMA unless --raw; shape and
context length are the checkpoint's). The mode sets the attention: ar from an
MLM or MDLM backbone is causal. RUNDIR gets the usual run files plus
finetune.json (the checkpoint it started from); --resume continues it exactly.

Downstream fine-tuning (--task): a head on the final hidden states (--head:
conv averages a GELU layer over each base and its neighbours, mean pools
the valid positions, centre the central quarter, flat weighs every
position, so it sees where a base is on aligned tasks);
the whole backbone is trained with its own attention (bidirectional for
mlm/mdlm, causal for ar). --task is a TSV or CSV with a header (--seq-col,
--label-col), a Genomic Benchmarks directory (TASK/train|test/CLASS/*.txt,
or CLASS.csv coordinate files with --genome), or "human_or_worm" (derived
from the embedded genome slices). A single file is split 80/20 into
train/test, stratified, by a hash of the row index with seed 42 (unless
--test gives the test file). For each of --seeds, the train part is split
90/10 into train/valid with that seed; every head and learning rate of the
grid (--head, --lr; default conv,flat on fixed-length tasks, else conv;
1e-4,1e-3) is trained, stopping when the valid loss has not improved for
--patience evaluations (not before --min-epochs), and the grid point with
the lowest valid loss is scored on test. Sequences longer than the context
are centre cropped; shorter ones are padded and masked out of attention and
head. The k-mer and one-hot positional logistic regressions are fitted on
the same rows and splits and reported beside the network (--no-baselines
skips them); a network row below the best of them is flagged.
RUNDIR/results.json holds per-seed and summary accuracy, MCC and macro F1.`,
		Example: `  seqdiff finetune --mode ar --from runs/mlm --data prep/chr20 --out runs/ar-ft --max-steps 500
  seqdiff finetune --mode mdlm --from runs/mlm --data prep/chr20 --out runs/mdlm-ft --resume
  seqdiff finetune --task ../shared/data/benchmarks/human_nontata_promoters.tsv --from runs/ar-ft --out runs/ar-ft/tasks/nontata --seeds 1,2,3
  seqdiff finetune --task human_or_worm --from runs/mdlm-ft -o runs/hw`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{cleanStop: "yes"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.noRC {
				o.gen.RC, o.down.RC = false, false
			}
			if o.task != "" {
				return o.runTask(cmd, cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
			return o.runGenerative(cmd, cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	g, d := &o.gen, &o.down
	f.StringVar(&o.from, "from", "", "pre-trained checkpoint or run directory")
	f.StringVarP(&o.out, "out", "o", "", "run directory")
	choiceVar(cmd, &o.mode, "mode", "", []string{nn.ModeMDLM, nn.ModeAR}, "generative: objective")
	f.StringVar(&o.data, "data", "", "generative: prep directory")
	f.BoolVar(&o.resume, "resume", false, "generative: continue the run in --out")
	f.StringVar(&o.task, "task", "", "downstream: TSV/CSV file, Genomic Benchmarks directory, or human_or_worm")
	f.StringVar(&o.test, "test", "", "downstream: test table (default: split --task 80/20 with seed 42)")
	f.StringVar(&o.name, "task-name", "", "downstream: task name (default: from the path)")
	f.StringVar(&o.seqCol, "seq-col", "seq", "downstream: sequence column")
	f.StringVar(&o.labelCol, "label-col", "label", "downstream: label column")
	f.StringVar(&o.genome, "genome", "", "downstream: indexed FASTA for coordinate files")
	f.UintSliceVar(&o.seeds, "seeds", []uint{1, 2, 3, 4, 5}, "downstream: seeds, one fine-tuning run each")
	f.IntVar(&d.Batch, "batch", 0, "sequences per step (default: 8 generative, 32 downstream); generative: per forward pass")
	f.IntVar(&g.Accum, "accum", g.Accum, "generative: gradient accumulation, micro-batches of --batch rows per optimizer step")
	choiceVar(cmd, &g.TSampling, "t-sampling", g.TSampling, timeSamplings(), "generative mdlm: how a step draws its rows' times t")
	f.IntVar(&d.MaxSteps, "max-steps", 0, "generative: steps (required); downstream: cap on steps per seed")
	f.IntVar(&d.Warmup, "warmup", 0, "linear warm-up steps (default: 50 generative, 0 downstream)")
	f.Float64SliceVar(&o.lrs, "lr", nil, "peak learning `rate` (generative: default 1e-4; downstream: a comma list is a grid searched per seed on valid, default 1e-4,1e-3)")
	f.Lookup("lr").DefValue = "" // the defaults depend on the mode: the usage says them
	f.Float64Var(&d.WeightDecay, "weight-decay", 0, "AdamW decoupled weight decay")
	f.BoolVar(&d.Raw, "raw", false, "start from the trained weights even when the checkpoint has an EMA")
	f.BoolVar(&d.RC, "rc", true, "reverse-complement augmentation")
	f.BoolVar(&o.noRC, "no-rc", false, "no reverse-complement augmentation")
	f.MarkDeprecated("no-rc", "use --rc=false")
	o.dev.bind(cmd)
	f.IntVar(&d.EvalEvery, "eval-every", 0, "generative: score valid every this many steps (default 100); downstream: 0 = once per epoch")
	f.IntVar(&g.EvalRows, "eval-rows", 64, "generative: valid rows scored")
	f.IntVar(&g.CkptEvery, "ckpt-every", 100, "generative: checkpoint every this many steps")
	f.IntVar(&g.LogEvery, "log-every", 10, "generative: progress line every this many steps")
	f.Float64Var(&g.EMA, "ema", 0.9999, "generative: EMA decay of the weights (0: off)")
	f.Uint64Var(&g.Seed, "seed", 0, "generative: seed of data order and masking")
	f.Float64Var(&d.HeadLR, "head-lr", 0, "downstream: head learning rate (default 10 x --lr)")
	f.IntVar(&d.Epochs, "epochs", 10, "downstream: at most this many epochs")
	f.IntVar(&d.Patience, "patience", 3, "downstream: evaluations without a lower valid loss before stopping")
	f.IntVar(&d.MinEpochs, "min-epochs", 3, "downstream: epochs before early stopping may stop")
	f.StringSliceVar(&o.heads, "head", nil, "downstream: `head`(s), a comma list searched per seed on valid ("+strings.Join(finetune.Heads, ", ")+"; default conv,flat on fixed-length tasks, else conv)")
	f.BoolVar(&o.noBaselines, "no-baselines", false, "downstream: skip the k-mer and one-hot baseline rows")
	f.IntVar(&d.MaxLen, "max-len", 0, "downstream: crop length (0: the model's context)")
	f.Float64Var(&d.ValidFrac, "valid-frac", 0.1, "downstream: fraction of train held out for early stopping")
	f.IntVar(&d.MaxTrain, "max-train", 0, "downstream: use at most this many train rows per seed (stratified, seeded sample; 0: all)")
	f.IntVar(&d.MaxTest, "max-test", 0, "downstream: score at most this many test rows (stratified sample, the same for every seed; 0: all)")
	f.IntVar(&o.humanWormN, "human-or-worm-n", 1000, "human_or_worm: windows per class")
	f.IntVar(&o.humanWormLength, "human-or-worm-len", 200, "human_or_worm: window length")
	required(cmd, "out")
	return cmd
}

func (o *finetuneOptions) runGenerative(cmd *cobra.Command, stderr io.Writer) (err error) {
	if o.mode == "" && !o.resume {
		return usagef("pass --mode mdlm|ar (generative fine-tuning) or --task (downstream)")
	}
	cfg, d := o.gen, o.down
	if o.resume {
		var err error
		if cfg, err = train.ReadRunConfig(o.out); err != nil {
			return fmt.Errorf("resume: %w", err)
		}
		if d.MaxSteps > 0 {
			cfg.MaxSteps = d.MaxSteps
		}
	} else {
		cfg.Mode, cfg.Data, cfg.Out, cfg.MaxSteps, cfg.WeightDecay, cfg.RC = o.mode, o.data, o.out, d.MaxSteps, d.WeightDecay, d.RC
		cfg.LR, cfg.Warmup, cfg.EvalEvery, cfg.Threads = 1e-4, 50, 100, o.dev.threads
		for _, v := range []struct{ set, dst *int }{{&d.Batch, &cfg.Batch}, {&d.Warmup, &cfg.Warmup}, {&d.EvalEvery, &cfg.EvalEvery}} {
			if *v.set > 0 {
				*v.dst = *v.set
			}
		}
		switch len(o.lrs) {
		case 0:
		case 1:
			cfg.LR = o.lrs[0]
		default:
			return usagef("generative fine-tuning takes one --lr, not %d", len(o.lrs))
		}
	}
	from := o.from
	if o.resume {
		org, err := finetune.ReadOrigin(o.out)
		if err != nil {
			return fmt.Errorf("resume: %w", err)
		}
		from = org.From
	}
	o.dev.threads = cfg.Threads
	be, closeBE, err := o.dev.open() // a bad --device writes nothing
	if err != nil {
		return err
	}
	defer closeBE()
	// Under an MPI launcher the ranks train data-parallel, as pretrain's:
	// rank 0 owns the run dir, the others are silent.
	comm, err := dist.Init()
	if err != nil {
		return err
	}
	if comm != nil {
		defer func() { err = endRank(cmd.Context(), comm, err) }()
	}
	if comm.Rank() != 0 {
		stderr = io.Discard
	} else {
		if _, err := newRunDir(cfg.Out); err != nil {
			return err
		}
		unlock, err := train.Lock(cfg.Out)
		if err != nil {
			return err
		}
		defer unlock()
	}
	why, tr, err := finetune.Generative(cmd.Context(), be, finetune.GenerativeOptions{From: from, Cfg: cfg,
		Resume: o.resume, Raw: d.Raw, Stderr: stderr, Comm: comm})
	if tr == nil {
		return err
	}
	defer tr.Close()
	return trainEnded(stderr, tr, cfg.Out, "seqdiff finetune --out "+cfg.Out+" --resume", why, err)
}

// loadTask reads --task (or derives human_or_worm into dir).
func (o *finetuneOptions) loadTask(dir string) (*finetune.Task, error) {
	lo := finetune.LoadOptions{Path: o.task, Test: o.test, SeqCol: o.seqCol, LabelCol: o.labelCol, Genome: o.genome, Name: o.name}
	if o.task == "human_or_worm" {
		if _, err := os.Stat(o.task); err != nil {
			p := filepath.Join(dir, "human_or_worm.tsv")
			var sb strings.Builder
			if _, err := finetune.HumanOrWorm(&sb, finetune.HumanOrWormOptions{PerClass: o.humanWormN, Len: o.humanWormLength}); err != nil {
				return nil, err
			}
			if err := atomicfile.WriteFile(p, []byte(sb.String())); err != nil {
				return nil, err
			}
			lo.Path = p
		}
	}
	return finetune.Load(lo)
}

func (o *finetuneOptions) runTask(cmd *cobra.Command, stdout, stderr io.Writer) (err error) {
	switch {
	case o.from == "":
		return usagef("pass --from CKPT")
	case o.mode != "" || o.data != "" || cmd.Flags().Changed("accum") || cmd.Flags().Changed("t-sampling"):
		return usagef("--task is downstream fine-tuning: --mode and --data belong to generative fine-tuning, as do --accum and --t-sampling")
	}
	d := o.down
	d.From, d.Stderr, d.LRs, d.Heads = o.from, stderr, o.lrs, o.heads
	if err := finetune.CheckGrid(o.heads, o.lrs); err != nil {
		return usagef("--%v", err) // "--head ...", "--lr ..."
	}
	for _, s := range o.seeds {
		d.Seeds = append(d.Seeds, uint64(s))
	}
	be, closeBE, err := o.dev.open() // a bad --device writes nothing
	if err != nil {
		return err
	}
	defer closeBE()
	undo, err := newRunDir(o.out) // a bad task or checkpoint leaves no run dir behind
	if err != nil {
		return err
	}
	defer func() { undo(err) }()
	task, err := o.loadTask(o.out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "task %s: %d train, %d test, classes %v (%s)\n", task.Name, len(task.Train), len(task.Test), task.Classes, task.Split)
	res, err := finetune.Run(cmd.Context(), be, task, d)
	if err != nil {
		return err
	}
	if !o.noBaselines {
		if err := finetune.AddBaselines(cmd.Context(), task, res, d); err != nil {
			return err
		}
	}
	if err := res.WriteJSON(filepath.Join(o.out, "results.json")); err != nil {
		return err
	}
	md := finetune.Markdown([]*finetune.Results{res})
	if err := atomicfile.WriteFile(filepath.Join(o.out, "results.md"), []byte(md)); err != nil {
		return err
	}
	fmt.Fprint(stdout, md)
	return nil
}
