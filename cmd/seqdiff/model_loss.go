package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/spf13/cobra"

	"github.com/seqdiff/seqdiff/nn"
)

type modelLossOptions struct {
	in     tokenBatch
	tFile  string
	masked string
}

func newModelLossCmd() *cobra.Command {
	o := &modelLossOptions{}
	cmd := &cobra.Command{
		Use:   "loss",
		Short: "Evaluate a checkpoint's loss on a fixed batch",
		Long: `Evaluate the loss of the checkpoint's mode on a fixed batch of clean tokens
(int32 little-endian, rows x L), built by the objective training uses
(nn.Objective): for ar the next-token cross-entropy over non-PAD targets;
for mdlm the continuous-time NELBO with the given per-row times (--t,
float32 little-endian, one per row) and mask (--masked, uint8 rows x L, 1
where masked), normalised by the number of non-PAD tokens. Prints one JSON
object, as shared/reference/torch_ref.py loss does (which reads the trained
weights: pass --raw for a checkpoint with an EMA).`,
		Example: `  seqdiff model loss --ckpt ckpt/ar --tokens batch.i32 --rows 2
  seqdiff model loss --ckpt ckpt/mdlm --tokens batch.i32 --rows 2 --t t.f32 --masked masked.u8`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.OutOrStdout()) },
	}
	f := cmd.Flags()
	o.in.bind(cmd)
	f.StringVar(&o.tFile, "t", "", "mdlm: float32 little-endian time per row")
	f.StringVar(&o.masked, "masked", "", "mdlm: uint8 rows x L, 1 where masked")
	return cmd
}

func (o *modelLossOptions) run(stdout io.Writer) error {
	model, x0, L, closeModel, err := o.in.load()
	if err != nil {
		return err
	}
	defer closeModel()
	rows, tokens := o.in.rows, o.in.tokens
	obj := nn.NewObjective(model.Cfg)
	var li nn.LossInputs
	switch model.Cfg.Mode {
	case nn.ModeAR:
		li, err = obj.Inputs(x0, rows, L, nil)
	case nn.ModeMDLM:
		if o.tFile == "" || o.masked == "" {
			return usagef("mdlm loss needs --t and --masked")
		}
		var t []float32
		var masked []byte
		if t, err = readTimes(o.tFile, rows); err != nil {
			return err
		}
		if masked, err = os.ReadFile(o.masked); err != nil {
			return err
		}
		if len(masked) != len(x0) {
			return fmt.Errorf("%s: %d bytes, want %d (rows x L)", o.masked, len(masked), len(x0))
		}
		li, err = obj.Masked(x0, rows, L, t, masked)
	default:
		return fmt.Errorf("checkpoint %s: mode %s has no loss here (want mdlm or ar)", o.in.ckpt, model.Cfg.Mode)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", tokens, err)
	}
	if li.Norm == 0 {
		return fmt.Errorf("%s: no non-PAD tokens to score", tokens)
	}
	loss, err := model.Loss(li, nil, false)
	if err != nil {
		return fmt.Errorf("%s: %w", tokens, err)
	}
	return json.NewEncoder(stdout).Encode(map[string]any{"mode": model.Cfg.Mode, "loss": loss, "tokens": li.Norm})
}

// readTimes reads one float32 little-endian time in (0, 1] per row.
func readTimes(path string, rows int) ([]float32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) != 4*rows {
		return nil, fmt.Errorf("%s: %d bytes, want %d float32 (one per row)", path, len(b), rows)
	}
	t := make([]float32, rows)
	for i := range t {
		t[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		if !(t[i] > 0 && t[i] <= 1) {
			return nil, fmt.Errorf("%s: row %d: t = %v outside (0, 1]", path, i, t[i])
		}
	}
	return t, nil
}
