package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/seqdiff/seqdiff/plots"
)

func init() { register(newPlotCmd) }

type plotOptions struct {
	runs []string
	out  string
}

func newPlotCmd() *cobra.Command {
	o := &plotOptions{}
	cmd := &cobra.Command{
		Use:   "plot",
		Short: "Figures from run directories: perplexity vs accuracy, learning curves, sampling speed",
		Long: `Walk the --runs directories for metrics.jsonl (learning curves), ppl.json
(seqdiff eval ppl --json) with results.json (seqdiff finetune --task) below
or beside it (perplexity against downstream accuracy), and bench.jsonl
(seqdiff bench sample --json, several --steps) and write each figure that
has data to --out as PNG and SVG:

  ppl_vs_accuracy   one panel per task plus an overview; error bars: min-max over seeds
  learning_curves   train (running mean) and valid loss against training tokens
  sampling_speed    tokens/s against model calls for each MDLM sampler, and AR
  sample_quality    6-mer JS to real windows against tokens/s (bench sample --data)`,
		Example: `  seqdiff plot --runs study/models --runs study/bench --out study/figures
  seqdiff plot --runs runs/mdlm,runs/ar --out figs`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.OutOrStdout()) },
	}
	cmd.Flags().StringSliceVar(&o.runs, "runs", nil, "run directories (repeat or comma-separate)")
	cmd.Flags().StringVarP(&o.out, "out", "o", "", "output directory for the figures")
	required(cmd, "runs", "out")
	return cmd
}

func (o *plotOptions) run(stdout io.Writer) error {
	r, err := plots.Collect(o.runs...)
	if err != nil {
		return err
	}
	files, err := plots.All(r, o.out)
	if err != nil {
		return err
	}
	for _, f := range files {
		fmt.Fprintln(stdout, f)
	}
	return nil
}
