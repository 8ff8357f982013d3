package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/evaluate"
	"github.com/seqdiff/seqdiff/vocab"
)

func init() { register(newEvalCmd) }

// newEvalCmd is the `seqdiff eval` group.
func newEvalCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Score models and baselines: perplexity, k-mer baselines, generative perplexity of text samples",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newEvalPPLCmd(), newEvalKmerCmd(), newEvalGenPPLCmd())
	return cmd
}

type evalKmerOptions struct {
	data   string
	split  string
	ks     []int
	noTune bool
	json   bool
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
3.65 at best).`,
		Example: `  seqdiff eval kmer --data prep/chr20 --k 4
  seqdiff eval kmer --data prep/chr20 --k 0,4,6,8,10 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.OutOrStdout()) },
	}
	f := cmd.Flags()
	f.StringVar(&o.data, "data", "", "prep directory (seqdiff prep)")
	choiceVar(cmd, &o.split, "split", "test", dataprep.SplitNames[:], "split to score")
	f.IntSliceVar(&o.ks, "k", []int{4}, fmt.Sprintf("orders, comma-separated (0..%d)", evaluate.MaxKmerOrder))
	f.BoolVar(&o.noTune, "no-tune", false, "do not tune the smoothing on the valid split")
	f.BoolVar(&o.json, "json", false, "print one JSON object")
	required(cmd, "data")
	return cmd
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
