package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/evaluate"
	"github.com/seqdiff/seqdiff/train"
	"github.com/seqdiff/seqdiff/vocab"
)

type evalPPLOptions struct {
	ckpt   string
	data   string
	split  string
	eval   train.EvalOptions
	model  modelFlags
	json   bool
	perRow string
}

func newEvalPPLCmd() *cobra.Command {
	o := &evalPPLOptions{}
	cmd := &cobra.Command{
		Use:   "ppl",
		Short: "Perplexity of a checkpoint on a split: exact for AR, the NELBO bound for MDLM",
		Long: `Score a checkpoint (or a run directory's latest) on a split of a prep
directory. AR: the exact negative log-likelihood of every non-PAD next token
(the first token of a row is not predicted). MDLM: the NELBO, averaged over
--draws draws of (t, mask) per sequence from --seed; exp of it is an UPPER
BOUND on the perplexity and is labelled so. MLM: the cross-entropy of the 15%
masked positions (not a sequence perplexity). The EMA weights are used when
the checkpoint has them (--raw: the trained weights). The prep directory's
vocabulary, [MASK] and [PAD] ids and row length must fit the checkpoint.

Reported: nats per token, bits per token (= bits per base for DNA) and
perplexity; --json prints the report a study writes as ppl.json. For MDLM
the NELBO is also split by the diffusion time t of the draws into 10 equal
bins (by_t in the JSON): each draw's term goes to the bin of its t with its
row's tokens / K, so the bins' tokens add up to the total and their
token-weighted mean to the total's nats per token. It shows where the bound
is paid: at small t (little masked, long contexts) or large t.

--per-row FILE writes one line per scored row (TSV: row, tokens, nll,
nll_per_token; row is the row's index in the split; MDLM: the NELBO
averaged over the draws); the rows add up to the total.`,
		Example: `  seqdiff eval ppl --ckpt runs/ar --data prep/chr20 --split test
  seqdiff eval ppl --ckpt runs/mdlm --data prep/chr20 --draws 4 --max-rows 256 --json
  seqdiff eval ppl --ckpt runs/mdlm --data prep/chr20 --per-row mdlm-rows.tsv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.OutOrStdout()) },
	}
	f := cmd.Flags()
	f.StringVar(&o.ckpt, "ckpt", "", "checkpoint directory or run directory")
	f.StringVar(&o.data, "data", "", "prep directory (seqdiff prep)")
	choiceVar(cmd, &o.split, "split", "test", dataprep.SplitNames[:], "split to score")
	f.IntVar(&o.eval.Draws, "draws", 4, "MDLM: draws K of (t, mask) per sequence")
	alias(f, "samples", "draws")
	f.Uint64Var(&o.eval.Seed, "seed", 0, "MDLM/MLM: seed of the draws")
	f.IntVar(&o.eval.MaxRows, "max-rows", 0, "score only the first this many rows (0: all)")
	f.IntVar(&o.eval.Batch, "batch", 8, "rows per forward pass")
	o.model.bind(cmd)
	f.BoolVar(&o.json, "json", false, "print one JSON object")
	f.StringVar(&o.perRow, "per-row", "", "write per-row scores to this TSV file")
	required(cmd, "ckpt", "data")
	return cmd
}

func (o *evalPPLOptions) run(stdout io.Writer) error {
	if err := atLeast(1, "draws", o.eval.Draws, "batch", o.eval.Batch); err != nil {
		return err
	}
	if err := atLeast(0, "max-rows", o.eval.MaxRows); err != nil {
		return err
	}
	m, ema, closeModel, err := o.model.load(o.ckpt)
	if err != nil {
		return err
	}
	defer closeModel()
	rows := collectRows(o.perRow, &o.eval)
	nll, err := train.Perplexity(m, o.data, o.split, o.eval)
	if err != nil {
		return err
	}
	if err := writeRows(o.perRow, rows); err != nil {
		return err
	}
	rep := evaluate.NewReport(nll, o.ckpt, m.Cfg.Mode, o.split)
	rep.EMA, rep.Seed = ema, o.eval.Seed
	if o.json {
		return json.NewEncoder(stdout).Encode(rep)
	}
	w := map[bool]string{true: "EMA weights", false: "trained weights"}[ema]
	unit := "base"
	if m.Cfg.Tokenizer != vocab.DNATokenizer {
		unit = "token"
	}
	fmt.Fprintf(stdout, "%s (%s, %s) on %s: %d rows, seed %d\n%s\n", o.ckpt, m.Cfg.Mode, w, o.data, rep.Rows, o.eval.Seed, rep.Summary(unit))
	rep.WriteByT(stdout)
	return nil
}

// collectRows makes o gather per-row scores when path (--per-row) is set;
// writeRows then writes them there.
func collectRows(path string, o *train.EvalOptions) *[]evaluate.RowNLL {
	rows := new([]evaluate.RowNLL)
	if path != "" {
		o.PerRow = func(r evaluate.RowNLL) { *rows = append(*rows, r) }
	}
	return rows
}

func writeRows(path string, rows *[]evaluate.RowNLL) error {
	if path == "" {
		return nil
	}
	return evaluate.WriteRowsTSV(path, *rows)
}
