package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/seqdiff/seqdiff/internal/atomicfile"

	"github.com/spf13/cobra"

	"github.com/seqdiff/seqdiff/finetune"
	"github.com/seqdiff/seqdiff/train"
)

func init() { register(newFinetuneCmd) }

type finetuneOptions struct {
	// generative
	mode   string
	data   string
	resume bool
	// downstream
	task, test, name, seqCol, labelCol, genome, seeds string
	// shared
	from, out                        string
	batch, maxSteps, warmup, threads int
	lr, weightDecay                  float64
	raw                              bool
	device                           string
	// generative schedule and logging
	evalEvery, evalRows, ckptEvery, logEvery int
	ema                                      float64
	seed                                     uint64
	rc                                       bool
	// downstream training
	headLR                      float64
	epochs, patience, maxLen    int
	validFrac                   float64
	maxTrain, maxTest           int
	noRC                        bool
	humanWormN, humanWormLength int
}

func newFinetuneCmd() *cobra.Command {
	o := &finetuneOptions{}
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

Downstream fine-tuning (--task): the mean of the final hidden states over
valid positions feeds a linear head; the whole backbone is trained with its
own attention (bidirectional for mlm/mdlm, causal for ar). --task is a TSV or
CSV with a header (--seq-col, --label-col), a Genomic Benchmarks directory
(TASK/train|test/CLASS/*.txt, or CLASS.csv coordinate files with --genome),
or "human_or_worm" (derived from the embedded genome slices). A single file
is split 80/20 into train/test, stratified, by a hash of the row index with
seed 42 (unless --test gives the test file). For each of --seeds, the train
part is split 90/10 into train/valid with that seed, training stops when the
valid accuracy has not improved for --patience evaluations, and the best
weights are scored on test. Sequences longer than the context are centre
cropped; shorter ones are padded and masked out of attention and pool.
RUNDIR/results.json holds per-seed and summary accuracy, MCC and macro F1.`,
		Example: `  seqdiff finetune --mode ar --from runs/mlm --data prep/chr20 --out runs/ar-ft --max-steps 500
  seqdiff finetune --mode mdlm --from runs/mlm --data prep/chr20 --out runs/mdlm-ft --resume
  seqdiff finetune --task ../shared/data/benchmarks/human_nontata_promoters.tsv --from runs/ar-ft --out runs/ar-ft/tasks/nontata --seeds 1,2,3
  seqdiff finetune --task human_or_worm --from runs/mdlm-ft --out runs/hw`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.task != "" {
				return o.runTask(cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
			return o.runGenerative(cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.from, "from", "", "pre-trained checkpoint or run directory")
	f.StringVar(&o.out, "out", "", "run directory")
	f.StringVar(&o.mode, "mode", "", "generative: objective mdlm or ar")
	f.StringVar(&o.data, "data", "", "generative: prep directory")
	f.BoolVar(&o.resume, "resume", false, "generative: continue the run in --out")
	f.StringVar(&o.task, "task", "", "downstream: TSV/CSV file, Genomic Benchmarks directory, or human_or_worm")
	f.StringVar(&o.test, "test", "", "downstream: test table (default: split --task 80/20 with seed 42)")
	f.StringVar(&o.name, "task-name", "", "downstream: task name (default: from the path)")
	f.StringVar(&o.seqCol, "seq-col", "seq", "downstream: sequence column")
	f.StringVar(&o.labelCol, "label-col", "label", "downstream: label column")
	f.StringVar(&o.genome, "genome", "", "downstream: indexed FASTA for coordinate files")
	f.StringVar(&o.seeds, "seeds", "1,2,3,4,5", "downstream: seeds, one fine-tuning run each")
	f.IntVar(&o.batch, "batch", 0, "sequences per step (default: 8 generative, 32 downstream)")
	f.IntVar(&o.maxSteps, "max-steps", 0, "generative: steps (required); downstream: cap on steps per seed")
	f.IntVar(&o.warmup, "warmup", 0, "linear warm-up steps (default: 50 generative, 0 downstream)")
	f.Float64Var(&o.lr, "lr", 0, "peak learning rate (default 1e-4)")
	f.Float64Var(&o.weightDecay, "weight-decay", 0, "AdamW decoupled weight decay")
	f.BoolVar(&o.raw, "raw", false, "start from the trained weights even when the checkpoint has an EMA")
	f.IntVar(&o.threads, "threads", 0, "CPU threads (0: all cores)")
	f.StringVar(&o.device, "device", "auto", deviceHelp)
	f.IntVar(&o.evalEvery, "eval-every", 0, "generative: score valid every this many steps (default 100); downstream: 0 = once per epoch")
	f.IntVar(&o.evalRows, "eval-rows", 64, "generative: valid rows scored")
	f.IntVar(&o.ckptEvery, "ckpt-every", 100, "generative: checkpoint every this many steps")
	f.IntVar(&o.logEvery, "log-every", 10, "generative: progress line every this many steps")
	f.Float64Var(&o.ema, "ema", 0.9999, "generative: EMA decay")
	f.Uint64Var(&o.seed, "seed", 0, "generative: seed of data order and masking")
	f.BoolVar(&o.rc, "rc", true, "generative: reverse-complement augmentation")
	f.Float64Var(&o.headLR, "head-lr", 0, "downstream: head learning rate (default 10 x --lr)")
	f.IntVar(&o.epochs, "epochs", 10, "downstream: at most this many epochs")
	f.IntVar(&o.patience, "patience", 3, "downstream: evaluations without a better valid accuracy before stopping")
	f.IntVar(&o.maxLen, "max-len", 0, "downstream: crop length (0: the model's context)")
	f.Float64Var(&o.validFrac, "valid-frac", 0.1, "downstream: fraction of train held out for early stopping")
	f.IntVar(&o.maxTrain, "max-train", 0, "downstream: use at most this many train rows per seed (stratified, seeded sample; 0: all)")
	f.IntVar(&o.maxTest, "max-test", 0, "downstream: score at most this many test rows (stratified sample, the same for every seed; 0: all)")
	f.BoolVar(&o.noRC, "no-rc", false, "downstream: no reverse-complement augmentation")
	f.IntVar(&o.humanWormN, "human-or-worm-n", 1000, "human_or_worm: windows per class")
	f.IntVar(&o.humanWormLength, "human-or-worm-len", 200, "human_or_worm: window length")
	return cmd
}

func (o *finetuneOptions) runGenerative(stderr io.Writer) error {
	if o.mode == "" && !o.resume {
		return errors.New("pass --mode mdlm|ar (generative fine-tuning) or --task (downstream)")
	}
	if o.out == "" {
		return errors.New("no run directory: pass --out RUNDIR")
	}
	cfg := train.Default()
	if o.resume {
		if err := cfg.ReadYAML(filepath.Join(o.out, train.ConfigYAML)); err != nil {
			return fmt.Errorf("resume: %w", err)
		}
	} else {
		cfg.Mode, cfg.Data, cfg.Out, cfg.LR, cfg.Warmup, cfg.MaxSteps = o.mode, o.data, o.out, 1e-4, 50, o.maxSteps
		cfg.EvalEvery, cfg.EvalRows, cfg.CkptEvery, cfg.LogEvery, cfg.EMA, cfg.Seed, cfg.RC, cfg.Threads =
			100, o.evalRows, o.ckptEvery, o.logEvery, o.ema, o.seed, o.rc, o.threads
		if o.batch > 0 {
			cfg.Batch = o.batch
		}
		if o.lr > 0 {
			cfg.LR = o.lr
		}
		if o.warmup > 0 {
			cfg.Warmup = o.warmup
		}
		if o.evalEvery > 0 {
			cfg.EvalEvery = o.evalEvery
		}
		cfg.WeightDecay = o.weightDecay
	}
	from := o.from
	if o.resume {
		org, err := readOrigin(o.out)
		if err != nil {
			return err
		}
		from = org.From
		if o.maxSteps > 0 {
			cfg.MaxSteps = o.maxSteps
		}
	}
	be, closeBE, err := modelBackend(o.device, cfg.Threads) // a bad --device writes nothing
	if err != nil {
		return err
	}
	defer closeBE()
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return fmt.Errorf("run dir: %w", err)
	}
	unlock, err := train.Lock(cfg.Out)
	if err != nil {
		return err
	}
	defer unlock()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	why, tr, err := finetune.Generative(ctx, be, finetune.GenerativeOptions{From: from, Cfg: cfg,
		Resume: o.resume, Raw: o.raw, Stderr: stderr})
	if tr != nil {
		defer tr.Close()
	}
	if errors.Is(err, train.ErrInterrupted) {
		return fmt.Errorf("interrupted at step %d; checkpoint written; resume with: seqdiff finetune --out %s --resume", tr.Step(), cfg.Out)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "done: %s at step %d, %d tokens; checkpoint %s\n", why, tr.Step(), tr.Tokens(), filepath.Join(cfg.Out, train.CheckpointDir))
	return nil
}

func readOrigin(dir string) (finetune.Origin, error) {
	var org finetune.Origin
	b, err := os.ReadFile(filepath.Join(dir, finetune.FromFile))
	if err != nil {
		return org, fmt.Errorf("resume: %w", err)
	}
	return org, jsonUnmarshal(b, &org, filepath.Join(dir, finetune.FromFile))
}

func parseSeeds(s string) ([]uint64, error) {
	var out []uint64
	for _, p := range strings.Split(s, ",") {
		v, err := strconv.ParseUint(strings.TrimSpace(p), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("--seeds %q: want comma-separated non-negative integers", s)
		}
		out = append(out, v)
	}
	return out, nil
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

func (o *finetuneOptions) runTask(stdout, stderr io.Writer) (err error) {
	switch {
	case o.from == "":
		return errors.New("pass --from CKPT")
	case o.out == "":
		return errors.New("no run directory: pass --out RUNDIR")
	case o.mode != "" || o.data != "":
		return errors.New("--task is downstream fine-tuning: --mode and --data belong to generative fine-tuning")
	}
	seeds, err := parseSeeds(o.seeds)
	if err != nil {
		return err
	}
	be, closeBE, err := modelBackend(o.device, o.threads) // a bad --device writes nothing
	if err != nil {
		return err
	}
	defer closeBE()
	if _, serr := os.Stat(o.out); errors.Is(serr, fs.ErrNotExist) {
		// A bad task or checkpoint leaves no run dir behind.
		defer func() {
			if err != nil {
				os.Remove(o.out) // only an empty directory goes
			}
		}()
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("run dir: %w", err)
	}
	task, err := o.loadTask(o.out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "task %s: %d train, %d test, classes %v (%s)\n", task.Name, len(task.Train), len(task.Test), task.Classes, task.Split)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := finetune.Run(ctx, be, task, finetune.Options{From: o.from, Seeds: seeds, Batch: o.batch, LR: o.lr,
		HeadLR: o.headLR, Warmup: o.warmup, WeightDecay: o.weightDecay, Epochs: o.epochs, MaxSteps: o.maxSteps,
		EvalEvery: o.evalEvery, Patience: o.patience, ValidFrac: o.validFrac, MaxTrain: o.maxTrain, MaxTest: o.maxTest, MaxLen: o.maxLen, RC: !o.noRC, Raw: o.raw,
		Stderr: stderr})
	if err != nil {
		return err
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

func jsonUnmarshal(b []byte, v any, path string) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
