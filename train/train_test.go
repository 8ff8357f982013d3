package train

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/compute/cpu"
	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/evaluate"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/vocab"
)

// memRows is an in-memory split of rows of L ids.
type memRows struct {
	ids []int32
	L   int
}

func (m *memRows) Rows() int { return len(m.ids) / m.L }

func (m *memRows) ReadRows(dst []int32, start int) int {
	n := max(min(len(dst)/m.L, m.Rows()-start), 0)
	copy(dst, m.ids[start*m.L:(start+n)*m.L])
	for i := n * m.L; i < len(dst); i++ {
		dst[i] = vocab.Pad
	}
	return n
}

// memStream walks memRows in order, epoch after epoch, from a cursor.
type memStream struct {
	r   *memRows
	cur dataprep.Cursor
	// onNext, if set, runs after every batch (tests: cancel mid-run).
	onNext func(n int)
	calls  int
}

func (s *memStream) Next(dst []int32) error {
	L := s.r.L
	for b := 0; b < len(dst)/L; b++ {
		if int(s.cur.Position) == s.r.Rows() {
			s.cur = dataprep.Cursor{Epoch: s.cur.Epoch + 1}
		}
		copy(dst[b*L:(b+1)*L], s.r.ids[int(s.cur.Position)*L:(int(s.cur.Position)+1)*L])
		s.cur.Position++
	}
	s.calls++
	if s.onNext != nil {
		s.onNext(s.calls)
	}
	return nil
}

func (s *memStream) Cursor() dataprep.Cursor { return s.cur }

// markov is an order-1 Markov chain over A C G T (ids 7..10): from base i
// the next base is i+1 (mod 4) with probability 0.7, each other with 0.1.
// Its transition matrix is doubly stochastic, so the stationary law is
// uniform and the entropy rate is H = -(0.7 ln 0.7 + 3 * 0.1 ln 0.1).
var markovH = -(0.7*math.Log(0.7) + 3*0.1*math.Log(0.1))

func markovRows(n, L int, seed uint64) *memRows {
	r := rand.New(rand.NewPCG(seed, 99))
	ids := make([]int32, n*L)
	for row := 0; row < n; row++ {
		x := r.IntN(4) // stationary start
		for i := 0; i < L; i++ {
			ids[row*L+i] = 7 + int32(x)
			u := r.Float64()
			switch {
			case u < 0.7:
				x = (x + 1) % 4
			case u < 0.8:
				x = (x + 2) % 4
			case u < 0.9:
				x = (x + 3) % 4
			}
		}
	}
	return &memRows{ids: ids, L: L}
}

func memData(train, valid *memRows, hook func(*memStream)) *Data {
	return &Data{SeqLen: train.L, VocabSize: 12, MaskID: vocab.Mask, PadID: vocab.Pad, Valid: valid,
		Train: func(cur dataprep.Cursor) (Stream, error) {
			s := &memStream{r: train, cur: cur}
			if hook != nil {
				hook(s)
			}
			return s, nil
		}}
}

func tinyConfig(t *testing.T, mode string) Config {
	c := Default()
	c.Mode, c.Data, c.Out = mode, "mem", t.TempDir()
	c.DModel, c.NLayers, c.NHeads = 32, 2, 2
	c.Batch, c.LR, c.Warmup, c.LogEvery = 8, 3e-3, 10, 0
	c.EvalEvery, c.EvalRows, c.CkptEvery = 5, 16, 4
	c.Seed, c.Threads = 3, 2
	return c
}

func metricLines(t *testing.T, dir string) []Metric {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	var out []Metric
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var m Metric
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// TestResumeBitIdentical: a run interrupted at its 7th batch (checkpoint
// written on the cancel, after that step), with a stray metrics line
// appended after its checkpoint, then resumed, ends with exactly the
// weights, EMA and moments of an uninterrupted run with the same seed and
// thread count, and the same metrics log; also with gradient accumulation
// (the 7th batch is then inside a step).
func TestResumeBitIdentical(t *testing.T) {
	train, valid := markovRows(40, 32, 1), markovRows(8, 32, 2)
	for _, c := range []struct {
		mode  string
		accum int
	}{{nn.ModeMDLM, 1}, {nn.ModeAR, 1}, {nn.ModeMLM, 1}, {nn.ModeMDLM, 2}, {nn.ModeAR, 2}} {
		mode := c.mode
		cfg := tinyConfig(t, mode)
		cfg.MaxSteps, cfg.Accum = 15, c.accum
		if c.accum > 1 {
			cfg.Batch, cfg.MaxSteps = 4, 9
		}
		full := runToEnd(t, cfg, memData(train, valid, nil), false, nil)

		cfg.Out = t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		tr, err := New(cpu.New(cfg.Threads), cfg, memData(train, valid, func(s *memStream) {
			s.onNext = func(n int) {
				if n == 7 {
					cancel()
				}
			}
		}), false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Run(ctx); err != ErrInterrupted {
			t.Fatalf("%s: interrupted run returned %v", mode, err)
		}
		tr.Close()
		f, _ := os.OpenFile(filepath.Join(cfg.Out, MetricsFile), os.O_APPEND|os.O_WRONLY, 0)
		f.WriteString(`{"step":999}` + "\n")
		f.Close()
		resumed := runToEnd(t, cfg, memData(train, valid, nil), true, nil)
		for name, pair := range map[string][2][]float32{"weights": {full.Params, resumed.Params}, "ema": {full.EMA, resumed.EMA},
			"m": {full.M, resumed.M}, "v": {full.V, resumed.V}} {
			if len(pair[0]) == 0 || len(pair[0]) != len(pair[1]) {
				t.Fatalf("%s: %s missing", mode, name)
			}
			// Bit for bit: both runs take the same steps on the same batches,
			// shapes and cfg.Threads, which compute/cpu makes bit-identical.
			for i := range pair[0] {
				if math.Float32bits(pair[0][i]) != math.Float32bits(pair[1][i]) {
					t.Fatalf("%s: %s[%d] differs after resume: %v vs %v", mode, name, i, pair[0][i], pair[1][i])
				}
			}
		}
		a, b := metricLines(t, full.dir), metricLines(t, cfg.Out)
		if len(a) != len(b) {
			t.Fatalf("%s: %d metrics lines uninterrupted, %d resumed", mode, len(a), len(b))
		}
		for i := range a {
			if a[i].Step != b[i].Step || (a[i].Loss == nil) != (b[i].Loss == nil) || (a[i].Loss != nil && *a[i].Loss != *b[i].Loss) ||
				(a[i].ValidLoss == nil) != (b[i].ValidLoss == nil) || (a[i].ValidLoss != nil && *a[i].ValidLoss != *b[i].ValidLoss) {
				t.Fatalf("%s: metrics line %d differs: %+v vs %+v", mode, i, a[i], b[i])
			}
		}
	}
}

type finished struct {
	*nn.Checkpoint
	dir string
}

func runToEnd(t *testing.T, cfg Config, d *Data, resume bool, setup func(*Trainer)) finished {
	t.Helper()
	tr, err := New(cpu.New(cfg.Threads), cfg, d, resume)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if setup != nil {
		setup(tr)
	}
	if _, err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	ck, err := nn.LoadCheckpoint(filepath.Join(cfg.Out, nn.CheckpointDir))
	if err != nil {
		t.Fatal(err)
	}
	return finished{ck, cfg.Out}
}

// TestNonFiniteStepsSkipped: a step whose gradients hold a NaN changes
// nothing and is logged as skipped; MaxBadSteps of them in a row stop the
// run with an error and leave the last checkpoint as it was.
func TestNonFiniteStepsSkipped(t *testing.T) {
	cfg := tinyConfig(t, nn.ModeMDLM)
	cfg.MaxSteps, cfg.MaxBadSteps, cfg.CkptEvery, cfg.EvalEvery = 30, 3, 4, 0
	tr, err := New(cpu.New(cfg.Threads), cfg, memData(markovRows(40, 32, 1), nil, nil), false)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	var before []float32
	ckFile := filepath.Join(cfg.Out, nn.CheckpointDir, nn.ModelFile)
	var ckBytes []byte
	tr.afterBackward = func(m *nn.Model) {
		if tr.Step() == 6 { // one isolated bad step
			before = m.ParamsHost()
			m.Grads().Host[5] = float32(math.NaN())
		}
		if tr.Step() == 6+1 {
			after := m.ParamsHost()
			for i := range after {
				if after[i] != before[i] {
					t.Errorf("weight %d changed by a skipped step", i)
					break
				}
			}
		}
		if tr.Step() >= 10 { // from here on every step is bad
			if tr.Step() == 10 {
				ckBytes, _ = os.ReadFile(ckFile)
			}
			m.Grads().Host[0] = float32(math.Inf(1))
		}
	}
	_, err = tr.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "3 steps in a row") {
		t.Fatalf("run with persistent non-finite gradients returned %v", err)
	}
	if tr.Step() != 12 {
		t.Fatalf("stopped at step %d, want 12 (steps 10, 11, 12 bad)", tr.Step())
	}
	now, _ := os.ReadFile(ckFile)
	if len(ckBytes) == 0 || !bytes.Equal(now, ckBytes) {
		t.Fatal("the last good checkpoint was overwritten")
	}
	for _, v := range tr.Model.ParamsHost() {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatal("a non-finite value reached the weights")
		}
	}
	ms := metricLines(t, cfg.Out)
	if ms[5].Skipped != "non-finite" || ms[4].Skipped != "" || ms[6].Skipped != "" || ms[11].Skipped != "non-finite" {
		t.Fatalf("skipped flags wrong: %+v %+v %+v", ms[4], ms[5], ms[6])
	}
}

// TestHugeLRStaysFinite: lr 1e3 either trains on or stops with the clear
// error, and never leaves a non-finite weight.
func TestHugeLRStaysFinite(t *testing.T) {
	cfg := tinyConfig(t, nn.ModeAR)
	cfg.LR, cfg.Warmup, cfg.MaxSteps, cfg.EvalEvery, cfg.CkptEvery = 1e3, 0, 12, 0, 0
	tr, err := New(cpu.New(cfg.Threads), cfg, memData(markovRows(40, 32, 1), nil, nil), false)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if _, err := tr.Run(context.Background()); err != nil && !strings.Contains(err.Error(), "in a row") {
		t.Fatal(err)
	}
	for _, v := range tr.Model.ParamsHost() {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatal("a non-finite value reached the weights")
		}
	}
}

// TestAllPADBatch: a batch of only [PAD] contributes nothing in any mode.
func TestAllPADBatch(t *testing.T) {
	for _, mode := range []string{nn.ModeMDLM, nn.ModeAR, nn.ModeMLM} {
		cfg := tinyConfig(t, mode)
		cfg.MaxSteps = 10
		tr, err := New(cpu.New(cfg.Threads), cfg, memData(markovRows(16, 32, 1), nil, nil), false)
		if err != nil {
			t.Fatal(err)
		}
		x := make([]int32, cfg.Batch*32)
		copy(x, markovRows(cfg.Batch, 32, 5).ids)
		if _, err := tr.TrainStep(x); err != nil { // one real step so the moments are not zero
			t.Fatal(err)
		}
		before, ema0, step0 := tr.Model.ParamsHost(), append([]float32(nil), tr.Opt.EMA().Host...), tr.Opt.Step
		for i := range x {
			x[i] = vocab.Pad
		}
		r, err := tr.TrainStep(x)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Empty || r.Tokens != 0 || tr.Opt.Step != step0 {
			t.Fatalf("%s: all-PAD step %+v, optimizer step %d -> %d", mode, r, step0, tr.Opt.Step)
		}
		for i, v := range tr.Model.ParamsHost() {
			if v != before[i] || tr.Opt.EMA().Host[i] != ema0[i] {
				t.Fatalf("%s: an all-PAD batch changed parameter %d", mode, i)
			}
		}
		tr.Close()
	}
}

// TestMarkovPerplexity trains a tiny model (d 32, 2 layers, L 64) by AR
// and by MDLM on an order-1 Markov chain of known entropy rate H: the AR
// held-out NLL approaches H (exactly computable, so it cannot be far
// below it) and the MDLM NELBO stays above H (it is an upper bound) while
// coming reasonably close.
func TestMarkovPerplexity(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two models")
	}
	train, valid := markovRows(512, 64, 11), markovRows(64, 64, 12)
	got := map[string]evaluate.NLL{}
	for _, mode := range []string{nn.ModeAR, nn.ModeMDLM} {
		cfg := tinyConfig(t, mode)
		cfg.Batch, cfg.MaxSteps, cfg.Warmup, cfg.LR, cfg.EvalEvery, cfg.CkptEvery = 16, 300, 20, 3e-3, 0, 0
		tr, err := New(cpu.New(cfg.Threads), cfg, memData(train, valid, nil), false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		tr.Cfg.EvalRows, tr.Cfg.EvalSamples = 0, 8
		res, err := tr.Evaluate()
		if err != nil {
			t.Fatal(err)
		}
		got[mode] = res
		tr.Close()
	}
	ar, md := got[nn.ModeAR].PerToken(), got[nn.ModeMDLM].PerToken()
	t.Logf("entropy rate %.4f nats; AR NLL %.4f; MDLM NELBO %.4f (unigram %.4f)", markovH, ar, md, math.Log(4))
	if ar < markovH-0.03 || ar > markovH+0.06 {
		t.Errorf("AR NLL %.4f is not within [-0.03, +0.06] of the entropy rate %.4f", ar, markovH)
	}
	if md < markovH-0.03 || md > markovH+0.30 {
		t.Errorf("MDLM NELBO %.4f is not within [-0.03, +0.30] of the entropy rate %.4f", md, markovH)
	}
	if !got[nn.ModeMDLM].Bound || got[nn.ModeAR].Bound {
		t.Error("bound flags wrong")
	}
}

// TestResumeAtEndAddsNothing: a run killed after its last checkpoint (the
// log already ends with the final valid loss), resumed, adds no second
// valid line, whether the last step was an eval step or not.
func TestResumeAtEndAddsNothing(t *testing.T) {
	train, valid := markovRows(40, 32, 1), markovRows(8, 32, 2)
	for _, steps := range []int{8, 10} { // EvalEvery 4: step 8 is an eval step, 10 is not
		cfg := tinyConfig(t, nn.ModeAR)
		cfg.MaxSteps, cfg.EvalEvery = steps, 4
		runToEnd(t, cfg, memData(train, valid, nil), false, nil)
		before := metricLines(t, cfg.Out)
		if last := before[len(before)-1]; last.ValidLoss == nil || last.Step != steps {
			t.Fatalf("%d steps: the log does not end with step %d's valid loss: %+v", steps, steps, last)
		}
		runToEnd(t, cfg, memData(train, valid, nil), true, nil)
		if after := metricLines(t, cfg.Out); len(after) != len(before) {
			t.Fatalf("%d steps: resuming a finished run took the log from %d to %d lines", steps, len(before), len(after))
		}
	}
}
