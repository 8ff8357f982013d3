package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/seqdiff/seqdiff/nn"
)

type modelLogitsOptions struct {
	ckpt    string
	tokens  string
	rows    int
	out     string
	threads int
	batch   int
	ema     bool
	device  string
}

func newModelLogitsCmd() *cobra.Command {
	o := &modelLogitsOptions{}
	cmd := &cobra.Command{
		Use:   "logits",
		Short: "Write a checkpoint's logits for a token file",
		Long: `Read rows of int32 little-endian token ids (rows x L), run the checkpoint's
backbone on them (causal attention when its mode is ar, bidirectional
otherwise) and write the logits as float32 little-endian, shape (rows, L, V).
The output is written to a temporary file and renamed into place.`,
		Example: `  seqdiff model logits --ckpt ckpt/init --tokens batch.i32 --rows 2 --out logits.f32`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.ckpt, "ckpt", "", "checkpoint directory")
	f.StringVar(&o.tokens, "tokens", "", "int32 little-endian token file, rows x L")
	f.IntVar(&o.rows, "rows", 0, "number of rows in the token file")
	f.StringVar(&o.out, "out", "", "output file (float32 little-endian, rows x L x V)")
	f.IntVar(&o.threads, "threads", 0, "CPU threads (0 = all cores)")
	f.IntVar(&o.batch, "batch", 8, "rows per forward pass")
	f.BoolVar(&o.ema, "ema", false, "use the EMA weights (ema.safetensors)")
	f.StringVar(&o.device, "device", "auto", deviceHelp)
	return cmd
}

func (o *modelLogitsOptions) run(stdout io.Writer) error {
	switch {
	case o.ckpt == "" || o.tokens == "" || o.out == "":
		return fmt.Errorf("--ckpt, --tokens and --out are required")
	case o.rows < 1:
		return fmt.Errorf("--rows %d: must be positive", o.rows)
	case o.batch < 1:
		return fmt.Errorf("--batch %d: must be positive", o.batch)
	}
	toks, L, err := logitsReadTokens(o.tokens, o.rows)
	if err != nil {
		return err
	}
	be, closeBE, err := modelBackend(o.device, o.threads)
	if err != nil {
		return err
	}
	defer closeBE()
	model, ck, err := nn.LoadModel(be, o.ckpt)
	if err != nil {
		return err
	}
	if o.ema {
		if ck.EMA == nil {
			return fmt.Errorf("--ema: checkpoint %s has no %s", o.ckpt, nn.EMAFile)
		}
		if err := model.SetParams(ck.EMA); err != nil {
			return err
		}
	}
	V := model.Cfg.VocabSize
	causal := model.Cfg.Causal()
	out := make([]byte, 0, o.rows*L*V*4)
	for r := 0; r < o.rows; r += o.batch {
		B := min(o.batch, o.rows-r)
		if err := model.Forward(toks[r*L:(r+B)*L], nil, B, L, causal); err != nil {
			return fmt.Errorf("%s: rows %d..%d: %w", o.tokens, r, r+B-1, err)
		}
		logits, err := model.LogitsHost()
		if err != nil {
			return err
		}
		for _, v := range logits {
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(v))
		}
	}
	if err := logitsWriteAtomic(o.out, out); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "wrote %s: logits (%d, %d, %d), %s attention\n", o.out, o.rows, L, V, map[bool]string{true: "causal", false: "bidirectional"}[causal])
	return err
}

// logitsReadTokens reads rows of int32 little-endian ids and returns them with
// the row length.
func logitsReadTokens(path string, rows int) ([]int32, int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	if len(data)%4 != 0 {
		return nil, 0, fmt.Errorf("%s: %d bytes is not a whole number of int32 ids", path, len(data))
	}
	n := len(data) / 4
	if n == 0 || n%rows != 0 {
		return nil, 0, fmt.Errorf("%s: %d ids do not split into %d equal rows", path, n, rows)
	}
	toks := make([]int32, n)
	for i := range toks {
		toks[i] = int32(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return toks, n / rows, nil
}

// logitsWriteAtomic writes data to a temporary file beside path, fsyncs it
// and renames it into place, so a failure never leaves a half-written path.
func logitsWriteAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.Rename(tmp, path)
}
