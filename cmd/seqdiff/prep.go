package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/genome"
)

func init() { register(newPrepCmd) }

type prepOptions struct {
	fasta, out  string
	force       bool
	seqLen      int
	stride      int
	maxN        float64
	block       int
	validChroms []string
	testChroms  []string
	splitBED    string
	shardMiB    int
	quiet       bool
	json        bool

	// text corpora
	text      string
	tokenizer string
	style     string
	detok     string
	splitSeed uint64
}

// dnaOnlyFlags may not be given with --text.
var dnaOnlyFlags = []string{"fasta", "stride", "max-n", "block", "valid-chroms", "test-chroms", "split-bed"}

func newPrepCmd() *cobra.Command {
	o := &prepOptions{}
	cmd := &cobra.Command{
		Use:   "prep --out DIR [--fasta FILE | --text FILE|DIR]",
		Short: "Cut a genome FASTA or a text corpus into token shards (train/valid/test)",
		Long: `prep reads a FASTA (plain, gzip or BGZF; the embedded 1 Mb human chr22 slice
when --fasta is not given), cuts every record into windows of --seq-len bases
every --stride bases, drops windows with more than --max-n N (and all-N
windows), tokenizes them (DNA ids of docs/design.md: A=7 C=8 G=9 T=10 N=11) and
writes fixed-length uint8 rows into train/valid/test shards plus
manifest.json in DIR.

Splits, in order of precedence:
  --split-bed FILE      BED of chrom, start, end, split (train/valid/test), as the
                        Caduceus/Enformer intervals; windows lie wholly inside
                        one interval
  --valid-chroms/--test-chroms
                        whole chromosomes (chr1 = 1, chrM = MT); the rest is train
  default               blocks of --block bases, each assigned 90/5/5 by a fixed
                        hash of chromosome and block index; every split gets a
                        block when there are at least three

Text corpora (--text FILE|DIR) go through a text tokenizer instead
(--tokenizer bert-base-uncased or gpt2; default bert-base-uncased for lm1b,
gpt2 for owt) into uint16 rows:
  --style lm1b          one sentence a line; each sentence one row of [CLS]
                        sentence [SEP] padded with [PAD] or cut to --seq-len
                        (default 128); MDLM's lm1b detokenizer first (--detok)
  --style owt           documents (a folder of .txt files, a JSONL file with a
                        "text" field, or a file of blank-line-separated
                        documents) each followed by <|endoftext|>, concatenated
                        and wrapped into rows of --seq-len (default 1024) that
                        begin and end with <|endoftext|> (MDLM's wrap)
Each sentence or document goes to train/valid/test 90/5/5 by a hash of its
bytes keyed by --split-seed; empty documents are skipped and counted.

DIR is written in a temporary directory beside it and renamed into place at
the end; an existing DIR is refused unless --force.`,
		Example: `  # The embedded human slice
  seqdiff prep --out data/demo

  # A whole genome, chromosomes as validation and test sets
  seqdiff prep --fasta hg38.fa.gz --out data/hg38 --valid-chroms chr8 --test-chroms chr9

  # The Enformer/Caduceus intervals
  seqdiff prep --fasta hg38.fa.gz --out data/hg38 --split-bed sequences_human.bed

  # LM1B sentences, bert-base-uncased, rows of 128
  seqdiff prep --text lm1b/ --style lm1b --out data/lm1b

  # OpenWebText-style documents, GPT-2 BPE, rows of 1024
  seqdiff prep --text sotu/ --style owt --tokenizer gpt2 --out data/sotu`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{cleanStop: "yes"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.fasta, "fasta", "", "input FASTA (plain, gzip or BGZF); default: the embedded 1 Mb human chr22 slice")
	f.StringVarP(&o.out, "out", "o", "", "output directory (required)")
	f.BoolVar(&o.force, "force", false, "replace an existing output directory")
	f.IntVar(&o.seqLen, "seq-len", dataprep.DefaultSeqLen, "window length in bases (at least 8)")
	f.IntVar(&o.stride, "stride", 0, "bases between window starts (default --seq-len)")
	f.Float64Var(&o.maxN, "max-n", dataprep.DefaultMaxN, "drop windows with a larger fraction of N")
	f.IntVar(&o.block, "block", dataprep.DefaultBlock, "bases per split block (default split mode; 100000 for the embedded slice)")
	f.StringSliceVar(&o.validChroms, "valid-chroms", nil, "comma-separated chromosomes for the valid split")
	f.StringSliceVar(&o.testChroms, "test-chroms", nil, "comma-separated chromosomes for the test split")
	f.StringVar(&o.splitBED, "split-bed", "", "BED file of chrom, start, end, split")
	f.IntVar(&o.shardMiB, "shard-mib", dataprep.DefaultShardBytes>>20, "largest shard file in MiB")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress bar and no summary line")
	f.BoolVar(&o.json, "json", false, "print the summary (splits, input, time) as JSON on stdout")
	f.StringVar(&o.text, "text", "", "text corpus (file or folder) instead of a FASTA")
	choiceVar(cmd, &o.tokenizer, "tokenizer", "", []string{dataprep.BertTokenizerName, dataprep.GPT2TokenizerName}, "text tokenizer (default by --style)")
	choiceVar(cmd, &o.style, "style", dataprep.StyleLM1B, []string{dataprep.StyleLM1B, dataprep.StyleOWT}, "text corpus style: a sentence a line, or documents")
	choiceVar(cmd, &o.detok, "detok", "", []string{dataprep.DetokLM1B, dataprep.DetokNone}, "text detokenizer before tokenizing (default lm1b for --style lm1b)")
	f.Uint64Var(&o.splitSeed, "split-seed", 0, "key of the text train/valid/test hash")
	required(cmd, "out")
	return cmd
}

func (o *prepOptions) run(cmd *cobra.Command) error {
	ctx := cmd.Context()
	if o.text != "" {
		return o.runText(cmd, ctx)
	}
	for _, name := range []string{"tokenizer", "style", "detok", "split-seed"} {
		if cmd.Flags().Changed(name) {
			return usagef("prep: --%s is for text corpora (--text)", name)
		}
	}

	opts := dataprep.Options{
		Fasta: o.fasta, Out: o.out, Force: o.force,
		SeqLen: o.seqLen, Stride: o.stride, MaxN: o.maxN, NoMaxN: o.maxN == 0,
		Block: o.block, ValidChroms: o.validChroms, TestChroms: o.testChroms,
		SplitBED: o.splitBED, ShardBytes: int64(o.shardMiB) << 20,
	}
	if o.shardMiB < 1 {
		return usagef("prep: --shard-mib %d: must be at least 1", o.shardMiB)
	}
	if !cmd.Flags().Changed("block") {
		opts.Block = 0 // the default of the input: 1 Mb, or 100 kb for the embedded slice
	}
	stderr := cmd.ErrOrStderr()
	var bar *progressbar.ProgressBar
	if !o.quiet && isTerminal(stderr) {
		bar = newPrepBar(stderr, opts.Fasta)
		opts.Progress = func(n int64) { bar.Add64(n) }
	}
	start := time.Now()
	m, err := dataprep.Prep(ctx, opts)
	if bar != nil {
		bar.Finish()
		bar.Clear()
	}
	if err != nil {
		return err
	}
	return o.summarize(cmd, m, time.Since(start).Seconds())
}

// runText preps a text corpus.
func (o *prepOptions) runText(cmd *cobra.Command, ctx context.Context) error {
	for _, name := range dnaOnlyFlags {
		if cmd.Flags().Changed(name) {
			return usagef("prep: --%s is for FASTA input, not --text", name)
		}
	}
	if o.shardMiB < 1 {
		return usagef("prep: --shard-mib %d: must be at least 1", o.shardMiB)
	}
	tok := o.tokenizer
	if tok == "" {
		tok = dataprep.BertTokenizerName
		if o.style == dataprep.StyleOWT {
			tok = dataprep.GPT2TokenizerName
		}
	}
	opts := dataprep.TextOptions{
		Input: o.text, Out: o.out, Force: o.force, Tokenizer: tok, Style: o.style,
		Detok: o.detok, SplitSeed: o.splitSeed, ShardBytes: int64(o.shardMiB) << 20,
	}
	if cmd.Flags().Changed("seq-len") {
		opts.SeqLen = o.seqLen
	}
	start := time.Now()
	m, err := dataprep.PrepText(ctx, opts)
	if err != nil {
		return err
	}
	return o.summarize(cmd, m, time.Since(start).Seconds())
}

// summarize prints what prep wrote: the --json summary on stdout, else one
// line on stderr unless --quiet.
func (o *prepOptions) summarize(cmd *cobra.Command, m *dataprep.Manifest, secs float64) error {
	if o.json {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(prepSummary{Out: o.out, Seconds: secs, Input: m.Input.Path, SHA256: m.Input.SHA256, Bases: m.Input.Bases,
			SeqLen: m.SeqLen, SplitMode: m.Params.SplitMode, Splits: m.Splits, Tokenizer: m.Tokenizer, Text: m.Text})
	}
	if !o.quiet {
		fmt.Fprintf(cmd.ErrOrStderr(), "prep: %s -> %s: %s in %.2fs\n", m.Input.Path, o.out, m.Summary(), secs)
	}
	return nil
}

// prepSummary is what --json prints.
type prepSummary struct {
	Out       string                         `json:"out"`
	Seconds   float64                        `json:"seconds"`
	Input     string                         `json:"input"`
	SHA256    string                         `json:"sha256"`
	Bases     int64                          `json:"bases,omitempty"`
	SeqLen    int                            `json:"seq_len"`
	SplitMode string                         `json:"split_mode"`
	Splits    map[string]*dataprep.SplitInfo `json:"splits"`
	Tokenizer string                         `json:"tokenizer,omitempty"`
	Text      *dataprep.TextInfo             `json:"text,omitempty"`
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newPrepBar shows bases done, speed and ETA; the total comes from FILE.fai
// when there is one, else the bar is a counter.
func newPrepBar(w io.Writer, fasta string) *progressbar.ProgressBar {
	total := int64(-1)
	if fai, err := genome.ReadFai(fasta + ".fai"); err == nil {
		total = 0
		for _, e := range fai {
			total += e.Length
		}
	}
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("prep"),
		progressbar.OptionShowBytes(true), // bases shown as B/kB/MB, speed as MB/s
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetWidth(30),
	)
}
