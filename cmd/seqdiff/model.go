package main

import (
	"github.com/spf13/cobra"

	"github.com/seqdiff/seqdiff/nn"
)

func init() { register(newModelCmd) }

// newModelCmd is the `seqdiff model` group: checkpoints of the shared backbone.
func newModelCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "model",
		Short: "Create and evaluate checkpoints of the shared transformer",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newModelInitCmd(), newModelLogitsCmd(), newModelLossCmd())
	return cmd
}

// shapeOptions picks a model shape: a preset by name, a config file (JSON
// or YAML), or a preset with individual dimensions overridden by flags.
type shapeOptions struct {
	preset string
	config string
	dModel int
	layers int
	heads  int
	seqLen int
	vocab  int
	// timeCond turns on MDLM's time conditioning (DiT adaLN) for mdlm models.
	timeCond bool
}

func (o *shapeOptions) bind(cmd *cobra.Command, defaultPreset string) {
	fs := cmd.Flags()
	choiceVar(cmd, &o.preset, "preset", defaultPreset, nn.PresetNames(), "model shape preset")
	fs.StringVar(&o.config, "config", "", "model config file (JSON or YAML; keys as in config.json); overrides --preset")
	fs.IntVar(&o.dModel, "d-model", 0, "model width (overrides the preset)")
	fs.IntVar(&o.layers, "n-layers", 0, "number of blocks (overrides the preset)")
	fs.IntVar(&o.heads, "n-heads", 0, "attention heads (overrides the preset)")
	fs.IntVar(&o.seqLen, "seq-len", 0, "context length (overrides the preset)")
	fs.IntVar(&o.vocab, "vocab", 0, "vocabulary size (overrides the preset)")
	fs.BoolVar(&o.timeCond, "time-conditioning", false, "mdlm models: condition on the diffusion time t (MDLM's time_conditioning, DiT adaLN)")
}

// resolve returns the configuration for mode. --time-conditioning applies
// to an mdlm configuration only (a bench that builds an ar model beside the
// mdlm one leaves the ar one plain).
func (o *shapeOptions) resolve(mode string) (nn.Config, error) {
	var cfg nn.Config
	var err error
	if o.config != "" {
		cfg, err = nn.ReadConfigFile(o.config, mode)
	} else {
		cfg, err = nn.Preset(o.preset, mode)
	}
	if err != nil {
		return cfg, err
	}
	custom := false
	for _, f := range []struct {
		v   int
		dst *int
	}{{o.dModel, &cfg.DModel}, {o.layers, &cfg.NLayers}, {o.heads, &cfg.NHeads}, {o.seqLen, &cfg.SeqLen}, {o.vocab, &cfg.VocabSize}} {
		if f.v < 0 {
			return cfg, usagef("model dimensions must be positive, got %d", f.v)
		}
		if f.v > 0 {
			*f.dst = f.v
			custom = true
		}
	}
	if custom {
		cfg.Preset = ""
	}
	if o.timeCond && cfg.Mode == nn.ModeMDLM {
		cfg.TimeConditioning = true
	}
	if err := cfg.Validate(); err != nil {
		return cfg, usageError{err}
	}
	return cfg, nil
}
