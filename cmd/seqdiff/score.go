package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/seqdiff/seqdiff/genome"
	"github.com/seqdiff/seqdiff/internal/atomicfile"
	"github.com/seqdiff/seqdiff/varscore"
)

func init() { register(newScoreCmd) }

type scoreOptions struct {
	ckpt, fasta, vcf, output string
	json                     bool
	opt                      varscore.Options
	model                    modelFlags
}

// scoreChunk is how many VCF records are scored together (their windows
// pooled, deduplicated and batched).
const scoreChunk = 512

func newScoreCmd() *cobra.Command {
	o := &scoreOptions{}
	cmd := &cobra.Command{
		Use:   "score",
		Short: "Zero-shot scores of VCF variants: log-likelihood ratios of ALT against REF",
		Long: `Score every ALT allele of every record of a VCF (plain, gzip or BGZF) with a
checkpoint, in windows of the model's context (seq_len, or --window N)
cut from the FASTA the VCF was called against. Scores are in nats;
positive means the model finds ALT more likely than REF.

  ar    ar_llr: log p(ALT window) - log p(REF window), the exact AR
        log-likelihoods of the two windows (as eval ppl scores rows: the
        first base of a window is not predicted).
  mdlm, mlm
        masked_marginal for SNVs (and same-length substitutions): one
        forward pass of the REF window with the site masked, log p(ALT) -
        log p(REF) there (differing sites masked together, summed);
        nelbo_diff for indels: NELBO(REF window) - NELBO(ALT window),
        --draws K draws of (t, mask) from --seed, the same draws for both
        windows of a record (keyed by contig, POS and REF).

Windows: both are W bases long (W = --window, default seq_len). The allele
(m = the longer of REF and ALT) starts after floor((W - m) / 2) bases of
left flank; the REF window is the reference there; the ALT window is the
same left flank, the ALT allele, and the reference after the REF allele
up to W bases (a deletion reads further right, an insertion less far).
Near a contig end both windows shift to stay inside the contig (the
variant is then off centre), never padded. N is scored as a base. --rc
also scores the reverse complements of the same windows and reports
score = (score_fwd + score_rc) / 2.

Output (-o FILE, written atomically): TSV with '#' header lines naming the
checkpoint, mode, window, each method with K and seed, then columns CHROM
POS ID REF ALT score [score_fwd score_rc] method error, one row per ALT, and
a '# summary' line; --json writes one JSON object {"header", "rows",
"summary"} instead. An allele that cannot be scored gets score NA and an
error (KIND: message; kinds: missing_contig, past_end, ref_mismatch,
symbolic_alt, breakend_alt, star_alt, no_alt, alt_equals_ref,
allele_too_long, contig_too_short, window_off_contig) and the run goes on.
CHROM matches a FASTA record by name, else after dropping a leading "chr"
and ignoring case (M = MT); REF is compared case-insensitively. A
malformed VCF line stops the run (exit 1, FILE:LINE, no output written).

The FASTA is read by random access when FASTA.fai (and .gzi for BGZF; see
seqdiff index) is there, else read whole into memory. The first Ctrl-C
stops between forward passes and writes nothing (exit 130).`,
		Example: `  seqdiff score --ckpt runs/ar --fasta grch37_chr20.fa.gz --vcf calls.vcf.gz -o scores.tsv
  seqdiff score --ckpt runs/mdlm --fasta hg38.fa --vcf calls.vcf --window 512 --rc --draws 32 -o scores.json --json`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{cleanStop: "yes"},
		RunE:        func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context(), cmd.OutOrStdout()) },
	}
	f := cmd.Flags()
	f.StringVar(&o.ckpt, "ckpt", "", "checkpoint or run directory (a DNA model: ar, mdlm or mlm)")
	f.StringVar(&o.fasta, "fasta", "", "reference FASTA (plain, gzip or BGZF) the VCF was called against")
	f.StringVar(&o.vcf, "vcf", "", "VCF file (plain, gzip or BGZF)")
	f.StringVarP(&o.output, "output", "o", "", "output file: TSV, or JSON with --json")
	alias(f, "out", "output")
	f.BoolVar(&o.json, "json", false, "write one JSON object instead of TSV")
	f.IntVar(&o.opt.Window, "window", 0, "window length in bases (0: the checkpoint's seq_len)")
	f.BoolVar(&o.opt.RC, "rc", false, "also score the reverse-complement windows; score is the mean of both strands")
	f.IntVar(&o.opt.Draws, "draws", varscore.DefaultDraws, "mdlm/mlm indels: NELBO draws K of (t, mask) per window")
	f.Uint64Var(&o.opt.Seed, "seed", 0, "mdlm/mlm indels: seed of the NELBO draws")
	f.IntVar(&o.opt.Batch, "batch", varscore.DefaultBatch, "windows per forward pass")
	o.model.bind(cmd)
	required(cmd, "ckpt", "fasta", "vcf", "output")
	return cmd
}

func (o *scoreOptions) run(ctx context.Context, stdout io.Writer) error {
	if err := atLeast(1, "draws", o.opt.Draws, "batch", o.opt.Batch); err != nil {
		return err
	}
	if err := atLeast(0, "window", o.opt.Window); err != nil {
		return err
	}
	if o.opt.Window != 0 && o.opt.Window < varscore.MinWindow {
		return usagef("--window %d: must be 0 (seq_len) or at least %d", o.opt.Window, varscore.MinWindow)
	}
	// The inputs first: a bad header fails before the model loads.
	vr, err := genome.OpenVCF(o.vcf)
	if err != nil {
		return err
	}
	defer vr.Close()
	ref, closeRef, err := varscore.OpenReference(o.fasta)
	if err != nil {
		return err
	}
	defer closeRef.Close()
	m, ema, closeModel, err := o.model.load(o.ckpt)
	if err != nil {
		return err
	}
	defer closeModel()
	s, err := varscore.New(m, ref, o.opt)
	if errors.Is(err, varscore.ErrWindow) {
		return usagef("--window %d: the checkpoint %s has seq_len %d", o.opt.Window, o.ckpt, m.Cfg.SeqLen)
	}
	if err != nil {
		return err
	}
	var sum varscore.Summary
	var inputErr error // a bad VCF line, not a failed write
	start := time.Now()
	err = atomicfile.Write(o.output, func(f *os.File) error {
		w, err := varscore.NewWriter(f, s.Header(o.ckpt, ema, o.fasta, o.vcf), o.json)
		if err != nil {
			return err
		}
		chunk := make([]genome.VCFRecord, 0, scoreChunk)
		for done := false; !done; {
			chunk = chunk[:0]
			for len(chunk) < scoreChunk {
				rec, err := vr.Next()
				if err == io.EOF {
					done = true
					break
				}
				if err != nil {
					inputErr = err
					return err
				}
				chunk = append(chunk, rec)
			}
			rows, err := s.Score(ctx, chunk)
			if err != nil {
				inputErr = err
				return err
			}
			sum.Add(len(chunk), rows)
			if err := w.Write(rows); err != nil {
				return err
			}
		}
		sum.Seconds = time.Since(start).Seconds()
		if sum.Seconds > 0 {
			sum.RecordsPerS = float64(sum.Records) / sum.Seconds
		}
		return w.Close(sum)
	})
	if inputErr != nil {
		return inputErr
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "wrote %s: %s; %.1f s, %.1f records/s (%s, window %d)\n", o.output, sum, sum.Seconds, sum.RecordsPerS, m.Cfg.Mode, s.Options().Window)
	return err
}
