package main

import (
	"github.com/spf13/cobra"

	"github.com/seqdiff/seqdiff/experiment"
)

func init() { register(newExperimentCmd) }

type experimentOptions struct {
	config string
	out    string
	dev    deviceFlags
}

func newExperimentCmd() *cobra.Command {
	o := &experimentOptions{}
	cmd := &cobra.Command{
		Use:   "experiment",
		Short: "Run the whole study of one config: prep, pre-train, fine-tune, perplexity, tasks, bench, plots, report",
		Long: `Run a study config (configs/study-demo.yaml, configs/study-chr20.yaml) into
--out, stage by stage, printing one progress line per stage:

  prep        OUT/prep                        seqdiff prep (embedded slice when prep.fasta is empty)
  tasks       OUT/tasks/NAME.tsv              builtin tasks (human_or_worm from the embedded slices)
  pretrain    OUT/models/mlm                  MLM pre-training (the pretrain section)
  finetune    OUT/models/mdlm, OUT/models/ar  generative fine-tuning from models/mlm (the finetune section)
  scratch     OUT/models/MODE-scratch         with from_scratch: true, each mode pre-trained from scratch
  ppl         OUT/models/M/ppl.json           test perplexity (AR exact, MDLM NELBO bound)
  downstream  OUT/models/M/tasks/T/results.json  each task over the seeds
  baseline    OUT/models/kmer/...             k-mer perplexity and k-mer spectrum classifier (the baseline section)
  bench       OUT/bench/bench.jsonl           sampling speed against steps (MDLM ddpm, ddpm_cache; AR)
  plots       OUT/figures/*.png|svg           seqdiff plot
  report      OUT/report.md                   tables and figures

A stage whose output exists is skipped, so a killed study resumes where it
stopped: outputs appear atomically (training runs live in OUT/models/.M.partial
until they finish and are resumed from their last checkpoint; files are
written to a temporary name and renamed). Delete a stage's output to redo it
(and the stages after it that depend on it). SIGINT stops at a clean point;
the same command resumes.

With a models: list (name, objective, ckpt) the study compares existing
checkpoints: pretrain, finetune and scratch are skipped, and the later
stages read the checkpoints where they are and write into OUT/models/NAME.`,
		Example: `  seqdiff experiment --config configs/study-demo.yaml --out demo-out
  seqdiff experiment --config configs/study-chr20.yaml -o /tmp/study-chr20`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{cleanStop: "yes"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := experiment.ReadConfig(o.config)
			if err != nil {
				return err
			}
			o.dev.threads = cfg.Threads
			be, closeBE, err := o.dev.open() // a bad --device writes nothing
			if err != nil {
				return err
			}
			defer closeBE()
			return experiment.Run(cmd.Context(), cfg, experiment.Options{Out: o.out, Backend: be, Log: cmd.ErrOrStderr()})
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.config, "config", "", "study YAML")
	f.StringVarP(&o.out, "out", "o", "", "study directory")
	o.dev.bindDevice(cmd) // threads: the config's threads key
	required(cmd, "config", "out")
	return cmd
}
