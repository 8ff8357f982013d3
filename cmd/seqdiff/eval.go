package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/evaluate"
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
	ks     string
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
order is tuned on it (evaluate.Kmer.TuneAlpha; --no-tune keeps the fixed
discount). Perplexities are over A, C, G, T positions (N skipped), the
convention of the reference numbers (chr20: 3.84 at k = 4, 3.65 at best).`,
		Example: `  seqdiff eval kmer --data prep/chr20 --k 4
  seqdiff eval kmer --data prep/chr20 --k 0,4,6,8,10 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.OutOrStdout()) },
	}
	f := cmd.Flags()
	f.StringVar(&o.data, "data", "", "prep directory (seqdiff prep)")
	f.StringVar(&o.split, "split", "test", "split to score: test or valid")
	f.StringVar(&o.ks, "k", "4", "orders, comma-separated (0..12)")
	f.BoolVar(&o.noTune, "no-tune", false, "do not tune the smoothing on the valid split")
	f.BoolVar(&o.json, "json", false, "print one JSON object")
	return cmd
}

type kmerRow struct {
	K            int     `json:"k"`
	Perplexity   float64 `json:"perplexity"`
	NLLPerToken  float64 `json:"nll_per_token"`
	BitsPerToken float64 `json:"bits_per_token"`
	Tokens       int64   `json:"tokens"`
}

type kmerReport struct {
	Data   string    `json:"data"`
	Split  string    `json:"split"`
	Tuned  bool      `json:"tuned"`
	Orders []kmerRow `json:"orders"`
	BestK  int       `json:"best_k"`
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return nil, fmt.Errorf("%q is not a list of integers", s)
		}
		out = append(out, v)
	}
	return out, nil
}

func splitRows(s *dataprep.SplitData) [][]uint8 {
	rows := make([][]uint8, s.Rows())
	for i := range rows {
		rows[i] = s.Row(i)
	}
	return rows
}

func (o *evalKmerOptions) run(stdout io.Writer) error {
	if o.data == "" {
		return fmt.Errorf("no data: pass --data PREPDIR")
	}
	ks, err := parseInts(o.ks)
	if err != nil {
		return fmt.Errorf("--k: %w", err)
	}
	kmax := 0
	for _, k := range ks {
		if k < 0 || k > evaluate.MaxKmerOrder {
			return fmt.Errorf("--k %d: orders run from 0 to %d", k, evaluate.MaxKmerOrder)
		}
		kmax = max(kmax, k)
	}
	ds, err := dataprep.Open(o.data)
	if err != nil {
		return err
	}
	if ds.Manifest.Tokenizer != dataprep.DNATokenizerName {
		return fmt.Errorf("prep dir %s: k-mer baselines need DNA tokens, not %s", o.data, ds.Manifest.Tokenizer)
	}
	tr, err := ds.Split("train")
	if err != nil {
		return err
	}
	te, err := ds.Split(o.split)
	if err != nil {
		return err
	}
	km, err := evaluate.NewKmer(evaluate.KmerConfig{Order: kmax})
	if err != nil {
		return err
	}
	for i := range tr.Rows() {
		km.Add(tr.Row(i))
	}
	rep := kmerReport{Data: o.data, Split: o.split}
	if va, err := ds.Split("valid"); err == nil && va.Rows() > 0 && !o.noTune && o.split != "valid" {
		if _, err := km.TuneAlpha(splitRows(va)); err != nil {
			return err
		}
		rep.Tuned = true
	}
	rows := splitRows(te)
	for _, k := range ks {
		nll, err := km.Perplexity(rows, k)
		if err != nil {
			return err
		}
		rep.Orders = append(rep.Orders, kmerRow{K: k, Perplexity: nll.Perplexity(), NLLPerToken: nll.PerToken(),
			BitsPerToken: nll.BitsPerToken(), Tokens: nll.Count})
		if len(rep.Orders) == 1 || nll.Perplexity() < rep.Orders[indexOfK(rep.Orders, rep.BestK)].Perplexity {
			rep.BestK = k
		}
	}
	if o.json {
		return json.NewEncoder(stdout).Encode(rep)
	}
	smoothing := "discount"
	if rep.Tuned {
		smoothing = "Dirichlet tuned on valid"
	}
	fmt.Fprintf(stdout, "k-mer baseline on %s %s (%s smoothing; A/C/G/T positions)\n", o.data, o.split, smoothing)
	for _, r := range rep.Orders {
		fmt.Fprintf(stdout, "k %2d: perplexity %.4f  %.4f nats/token  %.4f bits/base  (%d tokens)\n", r.K, r.Perplexity, r.NLLPerToken, r.BitsPerToken, r.Tokens)
	}
	fmt.Fprintf(stdout, "best k %d\n", rep.BestK)
	return nil
}

func indexOfK(rows []kmerRow, k int) int {
	for i, r := range rows {
		if r.K == k {
			return i
		}
	}
	return 0
}
