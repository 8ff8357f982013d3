package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/evaluate"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/train"
)

type evalSamplesOptions struct {
	samples string
	data    string
	split   string
	maxRef  int
	scorer  string
	batch   int
	model   modelFlags
	json    bool
}

// samplesReport is what `seqdiff eval samples --json` prints.
type samplesReport struct {
	SamplesFile string `json:"samples_file"`
	Data        string `json:"data"`
	Split       string `json:"split"`
	evaluate.SampleQuality
	Scorer     string `json:"scorer,omitempty"`
	ScorerDesc string `json:"scorer_description,omitempty"`
	EMA        bool   `json:"ema,omitempty"`
}

func newEvalSamplesCmd() *cobra.Command {
	o := &evalSamplesOptions{}
	cmd := &cobra.Command{
		Use:   "samples",
		Short: "Quality of DNA samples against real sequence: k-mer spectra, GC, entropy, homopolymers",
		Long: `Measure a FASTA of generated DNA (seqdiff sample, or any FASTA; lower case
reads as the base) against real windows of a prep directory's split, with
the same numbers for both side by side:

- k-mer spectrum divergence: the Jensen-Shannon divergence, in bits (0: the
  same k-mer frequencies, 1: no k-mer in common), between the k-mer counts
  pooled over all samples and over all real windows, k = 1..6 (only A, C,
  G, T: a k-mer with N is skipped). Beside it, the floor: the same
  divergence between two disjoint sets of real windows of the samples'
  number and lengths, which is what sampling noise alone gives at this
  size (JS of a finite sample is never 0, and grows with k). A value near
  the floor is as close to real as this many bases can show. When the
  split is too small for two sets, the floor is between the two halves of
  the reference (alternate windows): half the size, so a higher floor.
- GC content of each sequence: mean and standard deviation.
- 3-mer entropy: the Shannon entropy in bits of each sequence's own 3-mer
  frequencies (6 at most; low for repetitive sequence), mean and std.
- the share of bases in homopolymer runs of 6 or more, and of N.
- with --scorer, the exact NLL per base (nats) under that AR checkpoint,
  in windows of its seq_len as eval ppl scores a split (the first base of
  each window is not predicted; N is scored).

The real windows are as many as the samples (--max-ref caps them; fewer
when the split is short), spread evenly over the split, each cut to the
length of the sample of the same index; a sample longer than the prep's
rows is matched by consecutive non-overlapping rows joined.`,
		Example: `  seqdiff eval samples --samples mdlm.fa --data prep/chr20 --split test
  seqdiff eval samples --samples ar.fa --data prep/chr20 --scorer runs/ar --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.scorer == "" {
				for _, f := range []string{"batch", "raw", "device", "threads"} {
					if fl := cmd.Flags().Lookup(f); fl != nil && fl.Changed {
						return usagef("--%s goes with --scorer", f)
					}
				}
			}
			return o.run(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.samples, "samples", "", "FASTA of generated DNA (plain or gzip)")
	f.StringVar(&o.data, "data", "", "prep directory (seqdiff prep) whose split gives the real windows")
	choiceVar(cmd, &o.split, "split", "test", dataprep.SplitNames[:], "split the real windows come from")
	f.IntVar(&o.maxRef, "max-ref", 0, "at most this many real windows (0: as many as samples)")
	f.StringVar(&o.scorer, "scorer", "", "AR checkpoint or run directory (DNA) to score samples and real windows with")
	f.IntVar(&o.batch, "batch", 8, "--scorer: windows per forward pass")
	o.model.bind(cmd)
	f.BoolVar(&o.json, "json", false, "print one JSON object")
	required(cmd, "samples", "data")
	return cmd
}

func (o *evalSamplesOptions) run(stdout io.Writer) error {
	if err := atLeast(0, "max-ref", o.maxRef); err != nil {
		return err
	}
	if err := atLeast(1, "batch", o.batch); err != nil {
		return err
	}
	_, samples, err := dataprep.ReadDNASamples(o.samples)
	if err != nil {
		return err
	}
	lens := make([]int, len(samples))
	for i, s := range samples {
		lens[i] = len(s)
	}
	if o.maxRef > 0 && o.maxRef < len(lens) {
		lens = lens[:o.maxRef]
	}
	ref, floor, err := train.ReferenceWindows(o.data, o.split, lens)
	if err != nil {
		return err
	}
	q, err := evaluate.CompareSamples(samples, ref, floor)
	if err != nil {
		return err
	}
	rep := samplesReport{SamplesFile: o.samples, Data: o.data, Split: o.split, SampleQuality: q}
	if o.scorer != "" {
		if err := o.score(&rep, samples, ref); err != nil {
			return err
		}
	}
	if o.json {
		return json.NewEncoder(stdout).Encode(rep)
	}
	return rep.write(stdout)
}

// score fills the scorer NLL of samples and ref into rep.
func (o *evalSamplesOptions) score(rep *samplesReport, samples, ref [][]uint8) error {
	m, ema, closeModel, err := o.model.load(o.scorer)
	if err != nil {
		return err
	}
	defer closeModel()
	for _, s := range []struct {
		what string
		seqs [][]uint8
		st   *evaluate.SetStats
	}{{o.samples, samples, &rep.Samples}, {"real windows of " + o.data, ref, &rep.Reference}} {
		nll, err := train.ScoreDNA(m, s.seqs, o.batch)
		if err != nil {
			return fmt.Errorf("scorer %s on %s: %w", o.scorer, s.what, err)
		}
		v := nll.PerToken()
		s.st.ScorerNLL, s.st.ScorerTokens = &v, nll.Tokens
	}
	c := m.Cfg
	rep.Scorer, rep.EMA = o.scorer, ema
	rep.ScorerDesc = fmt.Sprintf("seqdiff %s checkpoint (d %d, %d layers, %d heads, seq_len %d, %d params)",
		nn.ModeAR, c.DModel, c.NLayers, c.NHeads, c.SeqLen, m.NumParams())
	return nil
}

// write prints the report as a table: each number for the samples beside
// the real windows', then the k-mer divergences beside their floor.
func (r samplesReport) write(w io.Writer) error {
	s, ref := r.Samples, r.Reference
	fmt.Fprintf(w, "%s: %d samples, mean length %.1f; real: %d windows of %s %s cut to the same lengths\n",
		r.SamplesFile, s.Sequences, s.MeanLen, ref.Sequences, r.Data, r.Split)
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "\tsamples\treal")
	fmt.Fprintf(tw, "GC content (mean ± std)\t%.4f ± %.4f\t%.4f ± %.4f\n", s.GCMean, s.GCStd, ref.GCMean, ref.GCStd)
	fmt.Fprintf(tw, "3-mer entropy, bits (max 6)\t%.4f ± %.4f\t%.4f ± %.4f\n", s.Entropy3Mean, s.Entropy3Std, ref.Entropy3Mean, ref.Entropy3Std)
	fmt.Fprintf(tw, "bases in homopolymers >= %d\t%.4f\t%.4f\n", evaluate.HomopolymerLen, s.HomopolymerShare, ref.HomopolymerShare)
	fmt.Fprintf(tw, "N share\t%.4f\t%.4f\n", s.NShare, ref.NShare)
	if s.ScorerNLL != nil && ref.ScorerNLL != nil {
		fmt.Fprintf(tw, "NLL under the scorer, nats/base\t%.4f\t%.4f\n", *s.ScorerNLL, *ref.ScorerNLL)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.Scorer != "" {
		fmt.Fprintf(w, "scorer %s: %s\n", r.Scorer, r.ScorerDesc)
	}
	fmt.Fprintf(w, "\nk-mer spectrum Jensen-Shannon divergence (%s; 0: the same k-mer frequencies, 1: none in common)\n", r.JSUnit)
	tw = tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "k\tsamples vs real\treal vs real (floor)")
	for k := 1; k <= evaluate.SampleK; k++ {
		js, ok := r.KmerJS[k]
		if !ok {
			continue
		}
		fl := "-"
		if v, ok := r.KmerJSFloor[k]; ok {
			fl = fmt.Sprintf("%.4f", v)
		}
		fmt.Fprintf(tw, "%d\t%.4f\t%s\n", k, js, fl)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var err error
	switch r.Floor {
	case "disjoint":
		_, err = fmt.Fprintf(w, "floor: two disjoint sets of %d real windows, the noise of JS at this size; near it is as close to real as it can show\n", r.FloorSequences[0])
	case "halves":
		_, err = fmt.Fprintf(w, "floor: the real windows' two halves (%d and %d; the split is too small for two full sets), higher than the noise at full size\n",
			r.FloorSequences[0], r.FloorSequences[1])
	default:
		_, err = fmt.Fprintln(w, "floor: none (one real window)")
	}
	return err
}
