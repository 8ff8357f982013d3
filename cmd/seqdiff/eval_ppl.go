package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/train"
)

type evalPPLOptions struct {
	ckpt    string
	data    string
	split   string
	samples int
	seed    uint64
	maxRows int
	batch   int
	threads int
	device  string
	raw     bool
	json    bool
}

func newEvalPPLCmd() *cobra.Command {
	o := &evalPPLOptions{}
	cmd := &cobra.Command{
		Use:   "ppl",
		Short: "Perplexity of a checkpoint on a split: exact for AR, the NELBO bound for MDLM",
		Long: `Score a checkpoint (or a run directory's latest) on a split of a prep
directory. AR: the exact negative log-likelihood of every non-PAD next token
(the first token of a row is not predicted). MDLM: the NELBO, averaged over
--samples draws of (t, mask) per sequence from --seed; exp of it is an UPPER
BOUND on the perplexity and is labelled so. MLM: the cross-entropy of the 15%
masked positions (not a sequence perplexity). The EMA weights are used when
the checkpoint has them (--raw: the trained weights).

Reported: nats per token, bits per token (= bits per base for DNA) and
perplexity.`,
		Example: `  seqdiff eval ppl --ckpt runs/ar --data prep/chr20 --split test
  seqdiff eval ppl --ckpt runs/mdlm --data prep/chr20 --samples 4 --max-rows 256 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.OutOrStdout()) },
	}
	f := cmd.Flags()
	f.StringVar(&o.ckpt, "ckpt", "", "checkpoint directory or run directory")
	f.StringVar(&o.data, "data", "", "prep directory (seqdiff prep)")
	f.StringVar(&o.split, "split", "test", "split: test, valid or train")
	f.IntVar(&o.samples, "samples", 4, "MDLM: draws K of (t, mask) per sequence")
	f.Uint64Var(&o.seed, "seed", 0, "MDLM/MLM: seed of the draws")
	f.IntVar(&o.maxRows, "max-rows", 0, "score only the first this many rows (0: all)")
	f.IntVar(&o.batch, "batch", 8, "rows per forward pass")
	f.IntVar(&o.threads, "threads", 0, "CPU threads (0: all cores)")
	f.StringVar(&o.device, "device", "auto", deviceHelp)
	f.BoolVar(&o.raw, "raw", false, "use the trained weights even when the checkpoint has an EMA")
	f.BoolVar(&o.json, "json", false, "print one JSON object")
	return cmd
}

type pplReport struct {
	Checkpoint   string  `json:"checkpoint"`
	Mode         string  `json:"mode"`
	Split        string  `json:"split"`
	Perplexity   float64 `json:"perplexity"`
	NLLPerToken  float64 `json:"nll_per_token"`
	BitsPerToken float64 `json:"bits_per_token"`
	Bound        bool    `json:"bound"`
	Samples      int     `json:"samples"`
	Seed         uint64  `json:"seed"`
	Tokens       int64   `json:"tokens"`
	Rows         int     `json:"rows"`
	EMA          bool    `json:"ema"`
}

func (o *evalPPLOptions) run(stdout io.Writer) error {
	switch {
	case o.ckpt == "" || o.data == "":
		return fmt.Errorf("pass --ckpt DIR and --data PREPDIR")
	case o.samples < 1 || o.batch < 1 || o.maxRows < 0:
		return fmt.Errorf("--samples and --batch must be >= 1, --max-rows >= 0")
	}
	m, ema, closeModel, err := openModel(o.device, o.threads, o.ckpt, !o.raw)
	if err != nil {
		return err
	}
	defer closeModel()
	ds, err := dataprep.Open(o.data)
	if err != nil {
		return err
	}
	mf := ds.Manifest
	if mf.VocabSize > m.Cfg.VocabSize || mf.PadID != m.Cfg.PadID || mf.MaskID != m.Cfg.MaskID || mf.SeqLen > m.Cfg.SeqLen {
		return fmt.Errorf("prep dir %s (vocab %d, pad %d, mask %d, rows of %d) does not fit checkpoint %s (vocab %d, pad %d, mask %d, seq_len %d)",
			o.data, mf.VocabSize, mf.PadID, mf.MaskID, mf.SeqLen, o.ckpt, m.Cfg.VocabSize, m.Cfg.PadID, m.Cfg.MaskID, m.Cfg.SeqLen)
	}
	sp, err := ds.Split(o.split)
	if err != nil {
		return err
	}
	res, err := train.Evaluate(m, m.Cfg.Mode, sp, mf.SeqLen, o.batch, o.maxRows, o.samples, o.seed)
	if err != nil {
		return err
	}
	rep := pplReport{Checkpoint: o.ckpt, Mode: m.Cfg.Mode, Split: o.split, Perplexity: res.Perplexity(),
		NLLPerToken: res.PerToken(), BitsPerToken: res.BitsPerToken(), Bound: res.Bound, Tokens: res.Tokens,
		Rows: res.Rows, EMA: ema, Seed: o.seed}
	if m.Cfg.Mode == nn.ModeMDLM {
		rep.Samples = o.samples
	}
	if o.json {
		return json.NewEncoder(stdout).Encode(rep)
	}
	w := "trained weights"
	if ema {
		w = "EMA weights"
	}
	unit := "bits/base"
	if m.Cfg.Tokenizer != dataprep.DNATokenizerName {
		unit = "bits/token"
	}
	switch m.Cfg.Mode {
	case nn.ModeMDLM:
		fmt.Fprintf(stdout, "%s (mdlm, %s) on %s %s: %d rows, %d tokens, K = %d draws per sequence, seed %d\n", o.ckpt, w, o.data, o.split, res.Rows, res.Tokens, o.samples, o.seed)
		fmt.Fprintf(stdout, "NELBO %.4f nats/token  %.4f %s  perplexity <= %.4f (upper bound)\n", rep.NLLPerToken, rep.BitsPerToken, unit, rep.Perplexity)
	case nn.ModeAR:
		fmt.Fprintf(stdout, "%s (ar, %s) on %s %s: %d rows, %d predicted tokens (exact)\n", o.ckpt, w, o.data, o.split, res.Rows, res.Tokens)
		fmt.Fprintf(stdout, "NLL %.4f nats/token  %.4f %s  perplexity %.4f\n", rep.NLLPerToken, rep.BitsPerToken, unit, rep.Perplexity)
	default:
		fmt.Fprintf(stdout, "%s (mlm, %s) on %s %s: %d masked positions, seed %d\n", o.ckpt, w, o.data, o.split, res.Tokens, o.seed)
		fmt.Fprintf(stdout, "masked-token CE %.4f nats  %.4f bits  exp %.4f (not a sequence perplexity)\n", rep.NLLPerToken, rep.BitsPerToken, rep.Perplexity)
	}
	return nil
}
