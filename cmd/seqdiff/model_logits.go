package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/spf13/cobra"

	"github.com/seqdiff/seqdiff/internal/atomicfile"
	"github.com/seqdiff/seqdiff/nn"
)

type modelLogitsOptions struct {
	in     tokenBatch
	output string
	batch  int
	ema    bool
	tFile  string
}

func newModelLogitsCmd() *cobra.Command {
	o := &modelLogitsOptions{}
	cmd := &cobra.Command{
		Use:   "logits",
		Short: "Write a checkpoint's logits for a token file",
		Long: `Read rows of int32 little-endian token ids (rows x L), run the checkpoint's
backbone on them (causal attention when its mode is ar, bidirectional
otherwise) and write the logits as float32 little-endian, shape (rows, L, V).
A time-conditioned mdlm checkpoint reads its input at the diffusion times
of --t (float32 little-endian, one per row, as model loss takes them), or
at t = 0 (clean input) without it. The EMA weights are used when the
checkpoint has them; --raw takes the trained weights, which
shared/reference/torch_ref.py reads. The output is written to a temporary
file and renamed into place. python/seqdiff_torch.py --check compares its
PyTorch logits with this output.`,
		Example: `  seqdiff model logits --ckpt ckpt/init --tokens batch.i32 --rows 2 -o logits.f32
  seqdiff model logits --ckpt ckpt/mdlm-tc --tokens batch.i32 --rows 2 --t t.f32 -o logits.f32`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.OutOrStdout()) },
	}
	f := cmd.Flags()
	o.in.bind(cmd)
	f.StringVarP(&o.output, "output", "o", "", "output file (float32 little-endian, rows x L x V)")
	alias(f, "out", "output")
	f.IntVar(&o.batch, "batch", 8, "rows per forward pass")
	f.StringVar(&o.tFile, "t", "", "time-conditioned mdlm: float32 little-endian diffusion time per row (default 0)")
	f.BoolVar(&o.ema, "ema", false, "use the EMA weights")
	f.MarkDeprecated("ema", "the EMA weights are the default; --raw takes the trained ones")
	required(cmd, "output")
	return cmd
}

func (o *modelLogitsOptions) run(stdout io.Writer) error {
	if err := atLeast(1, "batch", o.batch); err != nil {
		return err
	}
	model, toks, L, closeModel, err := o.in.load()
	if err != nil {
		return err
	}
	defer closeModel()
	rows := o.in.rows
	V := model.Cfg.VocabSize
	causal := model.Cfg.Causal()
	var times []float32
	if o.tFile != "" {
		// Refused rather than ignored: the logits of a model without time
		// conditioning do not depend on t, and a caller passing one expects
		// they do.
		if !model.Cfg.TimeConditioning {
			return usagef("--t: checkpoint %s is not time-conditioned; its logits do not depend on t", o.in.ckpt)
		}
		if times, err = readTimes(o.tFile, rows); err != nil {
			return err
		}
	}
	out := make([]byte, 0, rows*L*V*4)
	for r := 0; r < rows; r += o.batch {
		B := min(o.batch, rows-r)
		var t []float32 // nil: t = 0
		if times != nil {
			t = times[r : r+B]
		}
		if err := model.ForwardTime(toks[r*L:(r+B)*L], nil, t, B, L, causal); err != nil {
			return fmt.Errorf("%s: rows %d..%d: %w", o.in.tokens, r, r+B-1, err)
		}
		logits, err := model.LogitsHost()
		if err != nil {
			return err
		}
		for _, v := range logits {
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(v))
		}
	}
	if err := atomicfile.WriteFile(o.output, out); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "wrote %s: logits (%d, %d, %d), %s attention\n", o.output, rows, L, V, map[bool]string{true: "causal", false: "bidirectional"}[causal])
	return err
}

// tokenBatch is a checkpoint and a file of int32 token rows to run it on:
// --ckpt, --tokens, --rows and the model flags.
type tokenBatch struct {
	ckpt, tokens string
	rows         int
	model        modelFlags
}

func (b *tokenBatch) bind(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&b.ckpt, "ckpt", "", "checkpoint directory")
	f.StringVar(&b.tokens, "tokens", "", "int32 little-endian token file, rows x L")
	f.IntVar(&b.rows, "rows", 0, "number of rows in the token file")
	b.model.bind(cmd)
	required(cmd, "ckpt", "tokens", "rows")
}

// load reads the token rows (x, rows x L) and loads the model.
func (b *tokenBatch) load() (m *nn.Model, x []int32, L int, close func(), err error) {
	if err := atLeast(1, "rows", b.rows); err != nil {
		return nil, nil, 0, nil, err
	}
	if x, L, err = readTokens(b.tokens, b.rows); err != nil {
		return nil, nil, 0, nil, err
	}
	m, _, close, err = b.model.load(b.ckpt)
	return m, x, L, close, err
}

// readTokens reads rows of int32 little-endian ids and returns them with
// the row length.
func readTokens(path string, rows int) ([]int32, int, error) {
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
