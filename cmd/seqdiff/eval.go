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

func init() { register(newEvalCmd) }

// newEvalCmd is the `seqdiff eval` group.
func newEvalCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Score models and baselines: perplexity, k-mer baselines, generative perplexity of text samples, quality of DNA samples",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newEvalPPLCmd(), newEvalKmerCmd(), newEvalGenPPLCmd(), newEvalSamplesCmd())
	return cmd
}

type evalKmerOptions struct {
	data   string
	split  string
	ks     []int
	noTune bool
	json   bool
	// --bidirectional: MDLM's floor, scored under the NELBO
	bidir  int
	eval   train.EvalOptions
	perRow string
}

func newEvalKmerCmd() *cobra.Command {
	o := &evalKmerOptions{}
	cmd := &cobra.Command{
		Use:   "kmer",
		Short: "Perplexity of order-k Markov (k-mer) baselines on a prep directory",
		Long: `Fit an order-k Markov model (k-mer counts, backing off to shorter contexts)
on the train split of a prep directory and report its perplexity on --split
for every order in --k. With a valid split, a Dirichlet smoothing strength per
order is tuned on it (--no-tune keeps the fixed discount) and the best order
is chosen on it, never on the scored split; this is the k-mer row of the
study (evaluate.KmerPerplexity). Perplexities are over A, C, G, T positions
(N skipped), the convention of the reference numbers (chr20: 3.84 at k = 4,
3.65 at best).

--bidirectional M is MDLM's own floor instead: a count model that predicts
a masked base from the visible bases around it, up to M on each side (the
run stops at the first masked position, N or row edge), from counts of
(left, right) -> centre on train, backing off from the longest context to
shorter ones down to the unigram with Dirichlet smoothing tuned on valid
(evaluate.BiKmer). It is scored under the same NELBO as eval ppl scores an
MDLM checkpoint: the same draws of (t, mask) for the same --draws, --seed
and --max-rows, over every non-PAD token (N included), so the two numbers
compare directly; an MDLM above it has learned less than local statistics.
The JSON is eval ppl's report (mode kmer-bidirectional, kmer_order M, by_t).
M runs from 1 to %d (dense tables: 37 MB at M = 5, 600 MB at M = 6).`,
		Example: `  seqdiff eval kmer --data prep/chr20 --k 4
  seqdiff eval kmer --data prep/chr20 --k 0,4,6,8,10 --json
  seqdiff eval kmer --data prep/chr20 --bidirectional 5 --draws 4 --seed 0 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("bidirectional") {
				return o.runBidir(cmd)
			}
			for _, f := range []string{"draws", "seed", "max-rows", "per-row"} {
				if cmd.Flags().Changed(f) {
					return usagef("--%s goes with --bidirectional", f)
				}
			}
			return o.run(cmd.OutOrStdout())
		},
	}
	cmd.Long = fmt.Sprintf(cmd.Long, evaluate.MaxBidirOrder)
	f := cmd.Flags()
	f.StringVar(&o.data, "data", "", "prep directory (seqdiff prep)")
	choiceVar(cmd, &o.split, "split", "test", dataprep.SplitNames[:], "split to score")
	f.IntSliceVar(&o.ks, "k", []int{4}, fmt.Sprintf("orders, comma-separated (0..%d)", evaluate.MaxKmerOrder))
	f.BoolVar(&o.noTune, "no-tune", false, "do not tune the smoothing on the valid split")
	f.BoolVar(&o.json, "json", false, "print one JSON object")
	f.IntVar(&o.bidir, "bidirectional", 0, fmt.Sprintf("score the bidirectional floor seeing up to M bases each side (1..%d) under the NELBO", evaluate.MaxBidirOrder))
	f.IntVar(&o.eval.Draws, "draws", 4, "--bidirectional: draws K of (t, mask) per sequence")
	f.Uint64Var(&o.eval.Seed, "seed", 0, "--bidirectional: seed of the draws")
	f.IntVar(&o.eval.MaxRows, "max-rows", 0, "--bidirectional: score only the first this many rows (0: all)")
	f.StringVar(&o.perRow, "per-row", "", "--bidirectional: write per-row scores to this TSV file")
	required(cmd, "data")
	return cmd
}

// runBidir is eval kmer --bidirectional: train.KmerFloor, reported as eval
// ppl reports an MDLM checkpoint.
func (o *evalKmerOptions) runBidir(cmd *cobra.Command) error {
	if o.bidir < 1 || o.bidir > evaluate.MaxBidirOrder {
		return usagef("--bidirectional %d: M runs from 1 to %d", o.bidir, evaluate.MaxBidirOrder)
	}
	for _, f := range []string{"k", "no-tune"} {
		if cmd.Flags().Changed(f) {
			return usagef("--%s is for the one-sided k-mer model, not --bidirectional", f)
		}
	}
	if err := atLeast(1, "draws", o.eval.Draws); err != nil {
		return err
	}
	if err := atLeast(0, "max-rows", o.eval.MaxRows); err != nil {
		return err
	}
	rows := collectRows(o.perRow, &o.eval)
	rep, err := train.KmerFloor(o.data, o.split, o.bidir, o.eval)
	if err != nil {
		return err
	}
	if err := writeRows(o.perRow, rows); err != nil {
		return err
	}
	stdout := cmd.OutOrStdout()
	if o.json {
		return json.NewEncoder(stdout).Encode(rep)
	}
	fmt.Fprintf(stdout, "%s on %s: %d rows, seed %d\n%s\n", rep.Checkpoint, o.data, rep.Rows, rep.Seed, rep.Summary("base"))
	rep.WriteByT(stdout)
	return nil
}

func (o *evalKmerOptions) run(stdout io.Writer) error {
	for _, k := range o.ks {
		if k < 0 || k > evaluate.MaxKmerOrder {
			return usagef("--k %d: orders run from 0 to %d", k, evaluate.MaxKmerOrder)
		}
	}
	ds, err := dataprep.Open(o.data)
	if err != nil {
		return err
	}
	if ds.Manifest.Tokenizer != vocab.DNATokenizer {
		return fmt.Errorf("prep dir %s: k-mer baselines need DNA tokens, not %s", o.data, ds.Manifest.Tokenizer)
	}
	open := func(n string) (evaluate.Split, error) { return ds.Split(n) }
	res, err := evaluate.KmerPerplexity(open, o.split, evaluate.KmerPPLOptions{Orders: o.ks, NoTune: o.noTune})
	if err != nil {
		return err
	}
	if o.json {
		return json.NewEncoder(stdout).Encode(struct {
			Data  string `json:"data"`
			Split string `json:"split"`
			evaluate.KmerPPL
		}{o.data, o.split, res})
	}
	smoothing := "discount"
	if res.Tuned {
		smoothing = "Dirichlet tuned on valid"
	}
	fmt.Fprintf(stdout, "k-mer baseline on %s %s (%s smoothing; A/C/G/T positions)\n", o.data, o.split, smoothing)
	for _, r := range res.Orders {
		fmt.Fprintf(stdout, "k %2d: perplexity %.4f  %.4f nats/token  %.4f bits/base  (%d tokens)\n", r.K, r.Perplexity, r.NLLPerToken, r.BitsPerToken, r.Tokens)
	}
	fmt.Fprintf(stdout, "best k %d (chosen on %s)\n", res.BestK, res.ChosenOn)
	return nil
}
