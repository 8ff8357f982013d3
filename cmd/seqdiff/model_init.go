package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/seqdiff/seqdiff/nn"
)

type modelInitOptions struct {
	shape shapeOptions
	mode  string
	seed  uint64
	out   string
}

func newModelInitCmd() *cobra.Command {
	o := &modelInitOptions{}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a freshly initialised checkpoint",
		Long: `Write a checkpoint directory (config.json + model.safetensors) holding a
freshly initialised backbone: normal(0, 0.02) weights, residual output
projections scaled by 1/sqrt(2 n_layers), zero biases, unit LayerNorm gains,
drawn deterministically from --seed.`,
		Example: `  seqdiff model init --preset dna-small --mode mdlm --seed 1 --out ckpt/init
  seqdiff model init --preset dna-small --d-model 64 --n-layers 2 --mode ar -o ckpt/tiny
  seqdiff model init --config model.yaml --mode mdlm --out ckpt/custom`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := o.shape.resolve(o.mode)
			if err != nil {
				return err
			}
			if o.shape.timeCond && !cfg.TimeConditioning {
				return usagef("--time-conditioning: only an mdlm model is conditioned on the diffusion time, not %s", cfg.Mode)
			}
			cfg.Training = map[string]any{"init_seed": o.seed, "steps": 0, "by": "seqdiff model init"}
			ck := &nn.Checkpoint{Config: cfg, Params: nn.InitParams(cfg, o.seed)}
			if err := ck.Save(o.out); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %s %d params (d %d, %d layers, %d heads, seq %d, vocab %d)\n",
				o.out, cfg.Mode, nn.NumParams(cfg), cfg.DModel, cfg.NLayers, cfg.NHeads, cfg.SeqLen, cfg.VocabSize)
			return err
		},
	}
	f := cmd.Flags()
	o.shape.bind(cmd, "dna-small")
	choiceVar(cmd, &o.mode, "mode", nn.ModeMDLM, []string{nn.ModeMDLM, nn.ModeAR, nn.ModeMLM}, "training mode recorded in the checkpoint (ar is causal)")
	f.Uint64Var(&o.seed, "seed", 0, "initialisation seed")
	f.StringVarP(&o.out, "out", "o", "", "checkpoint directory to write (replaced atomically if it exists)")
	required(cmd, "out")
	return cmd
}
