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
	ckpt    string
	tokens  string
	rows    int
	tFile   string
	masked  string
	threads int
	device  string
}

func newModelLossCmd() *cobra.Command {
	o := &modelLossOptions{}
	cmd := &cobra.Command{
		Use:   "loss",
		Short: "Evaluate a checkpoint's loss on a fixed batch",
		Long: `Evaluate the loss of the checkpoint's mode on a fixed batch of clean tokens
(int32 little-endian, rows x L): for ar the next-token cross-entropy over
non-PAD targets; for mdlm the continuous-time NELBO with the given per-row
times (--t, float32 little-endian, one per row) and mask (--masked, uint8
rows x L, 1 where masked), normalised by the number of non-PAD tokens.
Prints one JSON object, as shared/reference/torch_ref.py loss does.`,
		Example: `  seqdiff model loss --ckpt ckpt/ar --tokens batch.i32 --rows 2
  seqdiff model loss --ckpt ckpt/mdlm --tokens batch.i32 --rows 2 --t t.f32 --masked masked.u8`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.ckpt, "ckpt", "", "checkpoint directory")
	f.StringVar(&o.tokens, "tokens", "", "int32 little-endian token file, rows x L")
	f.IntVar(&o.rows, "rows", 0, "number of rows in the token file")
	f.StringVar(&o.tFile, "t", "", "mdlm: float32 little-endian time per row")
	f.StringVar(&o.masked, "masked", "", "mdlm: uint8 rows x L, 1 where masked")
	f.IntVar(&o.threads, "threads", 0, "CPU threads (0 = all cores)")
	f.StringVar(&o.device, "device", "auto", deviceHelp)
	return cmd
}

func (o *modelLossOptions) run(stdout io.Writer) error {
	if o.ckpt == "" || o.tokens == "" {
		return fmt.Errorf("--ckpt and --tokens are required")
	}
	if o.rows < 1 {
		return fmt.Errorf("--rows %d: must be positive", o.rows)
	}
	x0, L, err := logitsReadTokens(o.tokens, o.rows)
	if err != nil {
		return err
	}
	be, closeBE, err := modelBackend(o.device, o.threads)
	if err != nil {
		return err
	}
	defer closeBE()
	model, _, err := nn.LoadModel(be, o.ckpt)
	if err != nil {
		return err
	}
	cfg := model.Cfg
	var li nn.LossInputs
	switch cfg.Mode {
	case nn.ModeAR:
		if L < 2 {
			return fmt.Errorf("%s: rows of %d tokens: ar needs at least 2", o.tokens, L)
		}
		li = nn.ARInputs(x0, o.rows, L, cfg.PadID)
	case nn.ModeMDLM:
		if o.tFile == "" || o.masked == "" {
			return fmt.Errorf("mdlm loss needs --t and --masked")
		}
		tb, err := os.ReadFile(o.tFile)
		if err != nil {
			return err
		}
		if len(tb) != 4*o.rows {
			return fmt.Errorf("%s: %d bytes, want %d float32 (one per row)", o.tFile, len(tb), o.rows)
		}
		t := make([]float32, o.rows)
		for i := range t {
			t[i] = math.Float32frombits(binary.LittleEndian.Uint32(tb[4*i:]))
			if !(t[i] > 0 && t[i] <= 1) {
				return fmt.Errorf("%s: row %d: t = %v outside (0, 1]", o.tFile, i, t[i])
			}
		}
		masked, err := os.ReadFile(o.masked)
		if err != nil {
			return err
		}
		if len(masked) != len(x0) {
			return fmt.Errorf("%s: %d bytes, want %d (rows x L)", o.masked, len(masked), len(x0))
		}
		li = nn.MDLMInputs(x0, o.rows, L, t, masked, cfg.MaskID, cfg.PadID)
	default:
		return fmt.Errorf("checkpoint %s: mode %s has no loss here (want mdlm or ar)", o.ckpt, cfg.Mode)
	}
	if li.Norm == 0 {
		return fmt.Errorf("%s: no non-PAD tokens to score", o.tokens)
	}
	loss, err := model.Loss(li, nil, false)
	if err != nil {
		return fmt.Errorf("%s: %w", o.tokens, err)
	}
	return json.NewEncoder(stdout).Encode(map[string]any{"mode": cfg.Mode, "loss": loss, "tokens": li.Norm})
}
