package train

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/compute/cpu"
	"github.com/seqdiff/seqdiff/mdlm"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/vocab"
)

// padded is n Markov rows of L where rows 1 and 6 are mostly PAD, so that
// the two halves of the batch hold different numbers of tokens: a
// normaliser per micro-batch (the mean of their means) would not give the
// loss of the whole batch.
func padded(n, L int) *memRows {
	r := markovRows(n, L, 4)
	for i := L / 4; i < L; i++ {
		r.ids[1*L+i] = vocab.Pad
	}
	for i := L / 2; i < L; i++ {
		r.ids[6*L+i] = vocab.Pad
	}
	return r
}

// relDiff is max|a-b| / max|a|.
func relDiff(a, b []float32) float64 {
	var d, m float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
		m = math.Max(m, math.Abs(float64(a[i])))
	}
	return d / m
}

// TestAccumEqualsBigBatch: one step with accum 2 x batch 4 equals one step
// on batch 8 of the same rows, in every mode: the same tokens, the loss,
// gradients, gradient norm and weights after the update within float32
// rounding (the sums are taken in another order, so not bit for bit);
// also when the second micro-batch is all PAD.
func TestAccumEqualsBigBatch(t *testing.T) {
	const L = 32
	halfPAD := padded(8, L)
	for i := 4 * L; i < 8*L; i++ {
		halfPAD.ids[i] = vocab.Pad
	}
	for _, c := range []struct {
		mode string
		rows *memRows
	}{{nn.ModeMDLM, padded(8, L)}, {nn.ModeAR, padded(8, L)}, {nn.ModeMLM, padded(8, L)}, {nn.ModeMDLM, halfPAD}, {nn.ModeAR, halfPAD}} {
		mode, rows := c.mode, c.rows
		type got struct {
			r       StepResult
			grads   []float32
			weights []float32
		}
		step := func(batch, accum int) got {
			cfg := tinyConfig(t, mode)
			cfg.Batch, cfg.Accum = batch, accum
			cfg.MaxSteps = 1
			tr, err := New(cpu.New(cfg.Threads), cfg, memData(rows, nil, nil), false)
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			var g got
			tr.afterBackward = func(m *nn.Model) { g.grads = slices.Clone(m.Grads().Host) }
			if g.r, err = tr.TrainStep(slices.Clone(rows.ids)); err != nil {
				t.Fatal(err)
			}
			g.weights = tr.Model.ParamsHost()
			return g
		}
		big, acc := step(8, 1), step(4, 2)
		if big.r.Tokens != acc.r.Tokens || big.r.Tokens == 8*L || big.r.Skipped || acc.r.Skipped {
			t.Fatalf("%s: tokens %d vs %d (skipped %v %v)", mode, big.r.Tokens, acc.r.Tokens, big.r.Skipped, acc.r.Skipped)
		}
		if d := math.Abs(big.r.Loss-acc.r.Loss) / big.r.Loss; d > 1e-6 {
			t.Errorf("%s: loss %.8f on batch 8, %.8f on 2 x 4 (rel %.2g)", mode, big.r.Loss, acc.r.Loss, d)
		}
		if d := math.Abs(big.r.GradNorm-acc.r.GradNorm) / big.r.GradNorm; d > 1e-5 {
			t.Errorf("%s: gradient norm %.8f on batch 8, %.8f on 2 x 4", mode, big.r.GradNorm, acc.r.GradNorm)
		}
		if d := relDiff(big.grads, acc.grads); d > 1e-5 {
			t.Errorf("%s: gradients differ by %.3g of their largest", mode, d)
		}
		// The first AdamW step moves a weight by lr g/(|g| + eps): where the
		// (clipped) gradient is near eps = 1e-8, a rounding difference in
		// it moves the weight by a few percent of lr, so the weights are
		// compared to lr and the gradients above are the sharp check.
		var dmax float64
		for i := range big.weights {
			dmax = math.Max(dmax, math.Abs(float64(big.weights[i]-acc.weights[i])))
		}
		if lr := LR(0, 10, 1, 3e-3, 0.1); dmax > 0.05*lr {
			t.Errorf("%s: weights after one step differ by %.3g (lr %.3g)", mode, dmax, lr)
		}
	}
}

// TestAccumRun: a run with accum 2 x batch 4 counts optimizer steps and
// tokens like one with batch 8: the same metrics lines (steps, tokens,
// losses within rounding), the schedule's horizon from max_tokens, and the
// checkpoint's step, tokens and data cursor; its stream is read 2 batches
// a step.
func TestAccumRun(t *testing.T) {
	const L = 32
	rows := padded(40, L)
	run := func(batch, accum int) (*nn.Checkpoint, []Metric, int, int) {
		cfg := tinyConfig(t, nn.ModeMDLM)
		cfg.Batch, cfg.Accum, cfg.EvalEvery, cfg.CkptEvery = batch, accum, 3, 0
		cfg.MaxTokens = int64(5*8*L - 100) // 5 steps of 8 rows, less their PAD: the 5th step crosses it
		var calls int
		tr, err := New(cpu.New(cfg.Threads), cfg, memData(rows, markovRows(8, L, 2), func(s *memStream) {
			s.onNext = func(n int) { calls = n }
		}), false)
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		horizon := tr.Horizon()
		if _, err := tr.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		ck, err := nn.LoadCheckpoint(filepath.Join(cfg.Out, nn.CheckpointDir))
		if err != nil {
			t.Fatal(err)
		}
		return ck, metricLines(t, cfg.Out), horizon, calls
	}
	bigCk, bigM, bigH, bigCalls := run(8, 1)
	accCk, accM, accH, accCalls := run(4, 2)
	if bigH != 5 || accH != 5 {
		t.Fatalf("horizon %d on batch 8, %d on 2 x 4; want 5 (max_tokens over 8 rows of %d)", bigH, accH, L)
	}
	if bigCalls != 5 || accCalls != 10 {
		t.Fatalf("%d and %d batches drawn, want 5 and 10", bigCalls, accCalls)
	}
	if len(bigM) != len(accM) {
		t.Fatalf("%d metrics lines on batch 8, %d on 2 x 4", len(bigM), len(accM))
	}
	for i := range bigM {
		a, b := bigM[i], accM[i]
		if a.Step != b.Step || a.Tokens != b.Tokens || a.LR != b.LR || (a.Loss == nil) != (b.Loss == nil) || (a.ValidLoss == nil) != (b.ValidLoss == nil) {
			t.Fatalf("metrics line %d: %+v vs %+v", i, a, b)
		}
		if a.Loss != nil && math.Abs(*a.Loss-*b.Loss) > 1e-5**a.Loss {
			t.Errorf("step %d: loss %.7f on batch 8, %.7f on 2 x 4", a.Step, *a.Loss, *b.Loss)
		}
	}
	for _, k := range []string{"step", "tokens", "cursor", "horizon"} {
		x, _ := json.Marshal(bigCk.State[k])
		y, _ := json.Marshal(accCk.State[k])
		if string(x) != string(y) {
			t.Errorf("state.json %s: %s on batch 8, %s on 2 x 4", k, x, y)
		}
	}
	if accCk.Config.Training["accum"] != 2.0 {
		t.Errorf("the checkpoint's training configuration records accum %v, want 2", accCk.Config.Training["accum"])
	}
}

// TestResumeKeepsTSampling: a resumed mdlm run must draw its times as its
// checkpoint did; a checkpoint from before t_sampling counts as systematic.
func TestResumeKeepsTSampling(t *testing.T) {
	rows := markovRows(40, 32, 1)
	cfg := tinyConfig(t, nn.ModeMDLM)
	cfg.MaxSteps, cfg.EvalEvery = 2, 0
	runToEnd(t, cfg, memData(rows, nil, nil), false, nil)
	resume := func(ts mdlm.TimeSampling) error {
		c := cfg
		c.TSampling, c.MaxSteps = string(ts), 3
		tr, err := New(cpu.New(c.Threads), c, memData(rows, nil, nil), true)
		if err == nil {
			tr.Close()
		}
		return err
	}
	if err := resume(mdlm.Systematic); err == nil || !strings.Contains(err.Error(), "t_sampling stratified") {
		t.Fatalf("resume of a stratified run as systematic: %v", err)
	}
	if err := resume(mdlm.Stratified); err != nil {
		t.Fatal(err)
	}
	// An older checkpoint: no t_sampling in its training configuration.
	p := filepath.Join(cfg.Out, nn.CheckpointDir, nn.ConfigFile)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	delete(m["training"].(map[string]any), "t_sampling")
	b, _ = json.Marshal(m)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := resume(mdlm.Stratified); err == nil || !strings.Contains(err.Error(), "t_sampling systematic") {
		t.Fatalf("resume of an old (systematic) run as stratified: %v", err)
	}
	if err := resume(mdlm.Systematic); err != nil {
		t.Fatal(err)
	}
}
