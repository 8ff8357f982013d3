package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/seqdiff/seqdiff/compute"
	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/train"
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
	shape shapeOptions
	mode  string
	dev   deviceFlags
	o     train.BenchTrainOptions
	json  bool
}

func newBenchTrainCmd() *cobra.Command {
	b := &benchTrainOptions{}
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Time full training steps (forward, backward, AdamW)",
		Long: `Time full training steps of the backbone on random DNA tokens (A, C, G, T)
with the real loss, built as training builds it (nn.Objective): MDLM
(stratified t, masking with probability 1-alpha(t), 1/t weights, [MASK]
banned, normalised by non-PAD tokens) or AR (shifted targets, causal
attention), then backward and an AdamW update, as
shared/reference/torch_ref.py bench does. Reports tokens/s of the median
step (batch x seq_len / step time), and the process's peak resident memory
(VmHWM). --profile syncs after every kernel and prints the time per kernel
class (it slows the step slightly).

With --data PREPDIR the batches come from the prep directory's train split
(rows of its seq_len, shuffled per epoch) and every --log-every steps the
mean train loss and the loss on a fixed valid batch (fixed t and mask for
mdlm) are printed: a short real training run.`,
		Example: `  seqdiff bench train --mode mdlm --preset dna-small --timed-steps 5 --untimed-steps 2
  seqdiff bench train --mode ar --preset dna-small --json
  seqdiff bench train --mode mdlm --d-model 64 --n-layers 2 --seq-len 256 --profile
  seqdiff bench train --mode ar --data prep/demo --d-model 64 --n-layers 2 --seq-len 256 --timed-steps 300 --lr 1e-3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return b.run(cmd.OutOrStdout()) },
	}
	f := cmd.Flags()
	o := &b.o
	b.shape.bind(cmd, "dna-small")
	choiceVar(cmd, &b.mode, "mode", nn.ModeMDLM, []string{nn.ModeMDLM, nn.ModeAR}, "loss")
	f.IntVar(&o.TimedSteps, "timed-steps", 5, "steps timed")
	alias(f, "steps", "timed-steps")
	f.IntVar(&o.UntimedSteps, "untimed-steps", 2, "steps run first, untimed")
	alias(f, "warmup", "untimed-steps")
	f.IntVar(&o.Batch, "batch", 8, "sequences per step")
	b.dev.bind(cmd)
	f.Uint64Var(&o.Seed, "seed", 0, "seed for the weights and the random batches")
	f.Float32Var(&o.LR, "lr", 3e-4, "AdamW learning rate")
	f.BoolVar(&b.json, "json", false, "print one JSON object")
	f.BoolVar(&o.Profile, "profile", false, "time each kernel class (syncs after every kernel)")
	f.StringVar(&o.Data, "data", "", "train on real batches from this prep directory's train split (instead of random tokens) and log the loss")
	f.IntVar(&o.LogEvery, "log-every", 20, "with --data: print the mean train loss and a fixed-batch valid loss every this many steps")
	return cmd
}

func (b *benchTrainOptions) run(stdout io.Writer) error {
	o := b.o
	if err := atLeast(1, "timed-steps", o.TimedSteps, "batch", o.Batch, "log-every", o.LogEvery); err != nil {
		return err
	}
	if err := atLeast(0, "untimed-steps", o.UntimedSteps); err != nil {
		return err
	}
	cfg, err := b.shape.resolve(b.mode)
	if err != nil {
		return err
	}
	be, closeBE, err := b.dev.open()
	if err != nil {
		return err
	}
	defer closeBE()
	o.Impl, o.Log = "seqdiff-"+version, stdout
	res, err := train.BenchTrain(be, cfg, o)
	if err != nil || b.json {
		if err == nil {
			err = json.NewEncoder(stdout).Encode(res)
		}
		return err
	}
	_, err = fmt.Fprint(stdout, res)
	return err
}

type benchSampleOptions struct {
	shape    shapeOptions
	mdlm, ar string
	data     string
	split    string
	scorer   string
	dev      deviceFlags
	o        train.BenchSampleOptions
	json     bool
}

func newBenchSampleCmd() *cobra.Command {
	b := &benchSampleOptions{}
	cmd := &cobra.Command{
		Use:   "sample",
		Short: "Time every sampler at the same length, and with --data measure the quality of its samples",
		Long: `Generate --n sequences of --len tokens (one batch) with MDLM ddpm and
ddpm_cache (for each of --steps T), topk_confidence (--steps model calls,
--reveal schedule), first_hitting (for each of --tokens-per-step k) and AR
ancestral sampling over the KV cache, and report tokens/s and model calls
(NFE) of each. The models are --mdlm and --ar checkpoints when given, else
freshly initialised models of the --preset shape (speed does not depend on
the weights).

With --data (a DNA prep dir), every setting's samples are also held against
as many real windows of --split: k-mer spectrum Jensen-Shannon divergence
for k = 1..6 (bits; eval samples), GC, 3-mer entropy and homopolymers, and,
with a scorer (--scorer, or the --ar checkpoint), the NLL per base of the
samples under that AR model (gen_nll). A first line, sampler "real", gives
the same numbers for a second, disjoint set of real windows: the JS floor at
this sample size and the real NLL. seqdiff plot draws quality against
tokens/s from these lines.

Next to each MDLM sampler's calls stands the expected number E[NFE]
(mdlm.ExpectedCalls), with the rows run through the model for a batch, and
next to ddpm_cache its measured speed-up over ddpm and the predicted one,
the ratio of expected row evaluations. With the log-linear schedule every
position is revealed at a uniformly random step, and the cache runs a row
again only after a step that revealed one of its positions: once per
distinct reveal step, T (1 - (1 - 1/T)^len), about T (1 - e^(-len/T)) per
row, against about T for ddpm. It saves much only when T exceeds len (1.56x
at len 1024, T 1000; 10.3x at T 10000). A time-conditioned model never
reuses logits.`,
		Example: `  seqdiff bench sample --len 1024 --steps 128 --n 4
  seqdiff bench sample --n 1 --len 1024 --steps 1000,10000 --samplers ddpm,ddpm_cache
  seqdiff bench sample --mdlm runs/mdlm --ar runs/ar --data prep/chr20 --n 16 --len 1024 \
    --steps 32,128 --tokens-per-step 1,8,32 --json > bench.jsonl
  seqdiff bench sample --mdlm runs/mdlm --ar runs/ar --len 1024 --steps 1024 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return b.run(cmd.OutOrStdout()) },
	}
	f := cmd.Flags()
	o := &b.o
	b.shape.bind(cmd, "dna-small")
	f.StringVar(&b.mdlm, "mdlm", "", "MDLM checkpoint or run directory (default: a fresh model)")
	f.StringVar(&b.ar, "ar", "", "AR checkpoint or run directory (default: a fresh model)")
	f.IntVar(&o.N, "n", 4, "sequences")
	f.IntVar(&o.Len, "len", 0, "tokens per sequence (0: the model's seq_len)")
	f.IntSliceVar(&o.Steps, "steps", []int{128}, "MDLM ddpm's T and topk_confidence's model calls (a comma-separated list runs each)")
	f.IntSliceVar(&o.TokensPerStep, "tokens-per-step", []int{1}, "first_hitting's bases revealed per call (a list runs each; 1: exact)")
	f.StringVar(&o.Reveal, "reveal", "", "topk_confidence's reveal schedule: linear or cosine (default linear)")
	f.Float64Var(&o.ConfidenceNoise, "confidence-noise", 0, "topk_confidence's annealed Gumbel noise on the ranking (0: none)")
	f.StringSliceVar(&o.Samplers, "samplers", train.AllSamplers, "samplers to run: "+strings.Join(train.AllSamplers, ", "))
	f.StringVar(&b.data, "data", "", "DNA prep dir: measure sample quality against its real windows")
	choiceVar(cmd, &b.split, "split", "test", dataprep.SplitNames[:], "split the real windows come from (with --data)")
	f.StringVar(&b.scorer, "scorer", "", "AR checkpoint that scores samples and real windows (default: --ar when given)")
	f.IntVar(&o.Repeats, "repeats", 1, "timed runs per setting (the median is reported)")
	b.dev.bind(cmd)
	f.Uint64Var(&o.Seed, "seed", 0, "seed")
	f.BoolVar(&b.json, "json", false, "print one JSON object per sampler")
	return cmd
}

// model is the checkpoint in dir (it must be a mode model), else a fresh
// model of the --preset shape.
func (b *benchSampleOptions) model(be compute.Backend, dir, mode string) (*nn.Model, error) {
	if dir != "" {
		m, _, _, err := nn.LoadModel(be, dir, true)
		if err == nil && m.Cfg.Mode != mode {
			m.Free()
			return nil, fmt.Errorf("checkpoint %s is a %s model, want %s", dir, m.Cfg.Mode, mode)
		}
		return m, err
	}
	cfg, err := b.shape.resolve(mode)
	if err != nil {
		return nil, err
	}
	m, err := nn.New(be, cfg)
	if err == nil {
		m.Init(b.o.Seed)
	}
	return m, err
}

func (b *benchSampleOptions) run(stdout io.Writer) error {
	o := b.o
	if err := atLeast(1, "n", o.N, "repeats", o.Repeats); err != nil {
		return err
	}
	if err := atLeast(0, "len", o.Len); err != nil {
		return err
	}
	for _, T := range o.Steps {
		if err := atLeast(1, "steps", T); err != nil {
			return err
		}
	}
	want, err := train.Samplers(o.Samplers)
	if err != nil {
		return usagef("--samplers: %w", err)
	}
	be, closeBE, err := b.dev.open()
	if err != nil {
		return err
	}
	defer closeBE()
	var md, am *nn.Model
	L := o.Len
	if train.WantsMDLM(want) {
		if md, err = b.model(be, b.mdlm, nn.ModeMDLM); err != nil {
			return err
		}
		defer md.Free()
		if o.Len == 0 {
			L = md.Cfg.SeqLen
		}
	}
	if want[train.SamplerAR] {
		if am, err = b.model(be, b.ar, nn.ModeAR); err != nil {
			return err
		}
		defer am.Free()
		if o.Len == 0 && (L == 0 || am.Cfg.SeqLen < L) {
			L = am.Cfg.SeqLen
		}
	}
	o.Len = L
	if b.data != "" {
		lens := make([]int, o.N)
		for i := range lens {
			lens[i] = L
		}
		if o.Ref, o.Floor, err = train.ReferenceWindows(b.data, b.split, lens); err != nil {
			return err
		}
		if len(o.Ref) < o.N {
			return fmt.Errorf("prep dir %s, %s split: room for %d real windows of %d, the samples need %d", b.data, b.split, len(o.Ref), L, o.N)
		}
		scorer := cmp.Or(b.scorer, b.ar)
		switch {
		case scorer != "" && scorer == b.ar && am != nil:
			o.Scorer, o.ScorerName = am, scorer
		case scorer != "":
			sm, _, _, err := nn.LoadModel(be, scorer, true)
			if err != nil {
				return err
			}
			defer sm.Free()
			o.Scorer, o.ScorerName = sm, scorer
		}
	} else if b.scorer != "" {
		return usagef("--scorer needs --data (the real windows the samples are held against)")
	}
	return train.BenchSample(md, am, o, func(r train.SampleTiming) error {
		if b.json {
			return json.NewEncoder(stdout).Encode(r)
		}
		_, err := fmt.Fprintln(stdout, r)
		return err
	})
}
