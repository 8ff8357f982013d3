package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/train"
)

type evalGenPPLOptions struct {
	samples string
	scorer  string
	batch   int
	model   modelFlags
	json    bool
}

func newEvalGenPPLCmd() *cobra.Command {
	o := &evalGenPPLOptions{}
	cmd := &cobra.Command{
		Use:   "genppl",
		Short: "Generative perplexity of text samples under a seqdiff AR scorer",
		Long: `Score generated text (seqdiff sample on a text checkpoint, or any text) with
an AR checkpoint trained by seqdiff: the exact perplexity of the samples
under the scorer. MDLM reports this number with GPT-2 large as the scorer;
here the scorer is the seqdiff AR model named by --scorer, which is said in
the output, so the number is only comparable between samples scored by the
same checkpoint.

--samples is a text file with one sample per line (blank lines skipped) or,
when it ends in .jsonl, one JSON object per line with a "text" field. Each
sample is retokenised with the scorer's tokenizer (special tokens written by
name, such as [CLS], [SEP] or <|endoftext|>, read as those tokens), a leading
BOS dropped, and scored in windows of the scorer's seq_len that begin with
BOS (the scorer never predicts a window's first token). The EMA weights are
used when the checkpoint has them (--raw: the trained weights).`,
		Example: `  seqdiff eval genppl --samples mdlm.txt --scorer runs/lm1b-ar
  seqdiff eval genppl --samples ar.jsonl --scorer runs/lm1b-ar --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.OutOrStdout()) },
	}
	f := cmd.Flags()
	f.StringVar(&o.samples, "samples", "", "text file, one sample per line (.jsonl: a \"text\" field per line)")
	f.StringVar(&o.scorer, "scorer", "", "AR checkpoint or run directory (trained by seqdiff on text)")
	f.IntVar(&o.batch, "batch", 8, "windows per forward pass")
	o.model.bind(cmd)
	f.BoolVar(&o.json, "json", false, "print one JSON object")
	required(cmd, "samples", "scorer")
	return cmd
}

func (o *evalGenPPLOptions) run(stdout io.Writer) error {
	if err := atLeast(1, "batch", o.batch); err != nil {
		return err
	}
	texts, err := dataprep.ReadTexts(o.samples)
	if err != nil {
		return err
	}
	m, ema, closeModel, err := o.model.load(o.scorer)
	if err != nil {
		return err
	}
	defer closeModel()
	tok, err := dataprep.TokenizerByName(m.Cfg.Tokenizer)
	if err != nil {
		return fmt.Errorf("scorer %s: %w", o.scorer, err)
	}
	g, err := train.GenerativePerplexity(m, tok, texts, o.batch)
	if err != nil {
		return fmt.Errorf("%s: %w", o.samples, err)
	}
	rep := g.Report(m, o.samples, o.scorer, ema)
	if o.json {
		return json.NewEncoder(stdout).Encode(rep)
	}
	_, err = fmt.Fprint(stdout, rep)
	return err
}
