package train

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seqdiff/seqdiff/compute/cpu"
	"github.com/seqdiff/seqdiff/nn"
)

func TestWSDSchedule(t *testing.T) {
	const lr, minFrac = 1e-3, 0.1
	for _, c := range []struct {
		step, start, n int
		want           float64
	}{
		{0, 0, 0, 1e-4}, {9, 0, 0, 1e-3}, {10, 0, 0, 1e-3}, {5000, 0, 0, 1e-3}, // no decay planned: warm-up, constant
		{29, 30, 11, 1e-3}, {30, 30, 11, 1e-3}, {35, 30, 11, 1e-3 - 0.5*0.9e-3}, {40, 30, 11, 1e-4}, {41, 30, 11, 1e-4},
		{5, 5, 3, 6e-4}, {6, 5, 3, 3.5e-4}, {7, 5, 3, 1e-4}, // a decay begun in the warm-up starts from its rate
		{30, 30, 1, 1e-4}, // a one-step decay is at the minimum at once
	} {
		if got := WSD(c.step, 10, c.start, c.n, lr, minFrac); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("WSD(%d) with decay %d+%d = %g, want %g", c.step, c.start, c.n, got, c.want)
		}
	}
	for s := 31; s < 41; s++ {
		if !(WSD(s, 10, 30, 11, lr, minFrac) < WSD(s-1, 10, 30, 11, lr, minFrac)) {
			t.Fatalf("decay not decreasing at %d", s)
		}
	}
	lr3, frac := 3e-3, 0.1
	if got := WSD(40, 10, 30, 11, lr3, frac); got != frac*lr3 {
		t.Fatalf("last decay step %v, want exactly min_lr_frac x lr %v", got, frac*lr3)
	}
}

// wsdDt is the fake clock's time per step: budget-only runs in these tests
// see exactly this much elapsed time per step, whatever the machine.
const wsdDt = 10 * time.Millisecond

// stepClock makes tr's clock advance wsdDt per step taken, so that the
// run's elapsed time at step k is k x wsdDt, across resumes too.
func stepClock(tr *Trainer) {
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	tr.now = func() time.Time { return base.Add(time.Duration(tr.step) * wsdDt) }
}

// budgetConfig is an ar run with a time budget alone of 412 ms: at 10 ms a
// step the decay (the last 25%) begins after step 31 (310 ms >= 309 ms),
// lasts round(102 ms / 10 ms) = 10 steps, and the run ends at step 41.
func budgetConfig(t *testing.T) Config {
	cfg := tinyConfig(t, nn.ModeAR)
	cfg.MaxSteps, cfg.MaxTokens, cfg.TimeBudget, cfg.DecayFrac = 0, 0, Duration(412*time.Millisecond), 0.25
	return cfg
}

func readState(t *testing.T, dir string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, nn.CheckpointDir, nn.StateFile))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBudgetOnlyWSD: a run with a time budget alone warms up, holds lr,
// decays linearly from the step at which (1-decay_frac) of the budget is
// spent over the steps that fill the rest of it (at the measured time per
// step), ends at exactly min_lr_frac x lr and stops there, and its
// state.json records the decay. A run that slows down in its decay stops
// at (1+decay_frac) x the budget.
func TestBudgetOnlyWSD(t *testing.T) {
	train, valid := markovRows(40, 32, 1), markovRows(8, 32, 2)
	cfg := budgetConfig(t)
	var msgs strings.Builder
	tr, err := New(cpu.New(cfg.Threads), cfg, memData(train, valid, nil), false)
	if err != nil {
		t.Fatal(err)
	}
	stepClock(tr)
	tr.Stderr = &msgs
	if tr.Horizon() != 0 || !strings.Contains(tr.Schedule(), "time budget 412ms, warm-up 10 steps, then constant, linear decay over the last 25%") {
		t.Fatalf("before the decay: horizon %d, %q", tr.Horizon(), tr.Schedule())
	}
	why, err := tr.Run(context.Background())
	tr.Close()
	if err != nil {
		t.Fatal(err)
	}
	if why != "learning-rate decay complete (time budget 412ms; the decay began at step 31)" || tr.Step() != 41 || tr.Horizon() != 41 {
		t.Fatalf("stopped: %q at step %d, horizon %d", why, tr.Step(), tr.Horizon())
	}
	if !strings.Contains(tr.Schedule(), "(steps 32-41, from 310ms)") ||
		!strings.Contains(msgs.String(), "step 31: 310ms of the time budget 412ms spent: the learning rate decays linearly to 3.00e-04 over steps 32-41 (10 steps at 10ms each)") {
		t.Fatalf("schedule %q, messages:\n%s", tr.Schedule(), msgs.String())
	}
	lrs := map[int]float64{}
	for _, m := range metricLines(t, cfg.Out) {
		if m.Loss != nil {
			lrs[m.Step] = m.LR
		}
	}
	if len(lrs) != 41 {
		t.Fatalf("%d training steps logged, want 41", len(lrs))
	}
	for s := 1; s <= 41; s++ {
		var want float64
		switch {
		case s <= 10:
			want = cfg.LR * float64(s) / 10 // warm-up
		case s <= 32:
			want = cfg.LR // constant, and the decay's first step
		default:
			want = cfg.LR + (cfg.MinLRFrac*cfg.LR-cfg.LR)*float64(s-32)/9
		}
		if math.Abs(lrs[s]-want) > 1e-15 {
			t.Errorf("step %d: lr %g, want %g", s, lrs[s], want)
		}
	}
	if lrs[41] != cfg.MinLRFrac*cfg.LR {
		t.Errorf("last step's lr %v, want exactly %v", lrs[41], cfg.MinLRFrac*cfg.LR)
	}
	st := readState(t, cfg.Out)
	for k, want := range map[string]float64{"step": 41, "decay_start": 31, "decay_steps": 10, "decay_start_elapsed_s": 0.31, "elapsed_s": 0.41, "horizon": 41} {
		if got, _ := st[k].(float64); math.Abs(got-want) > 1e-9 {
			t.Errorf("state.json %s = %v, want %v", k, st[k], want)
		}
	}

	// Slower in the decay (30 ms a step from step 31): the safety stop at
	// 1.25 x 412 ms = 515 ms comes at step 38 (520 ms), checkpointed.
	cfg.Out, cfg.EvalEvery = t.TempDir(), 0
	tr, err = New(cpu.New(cfg.Threads), cfg, memData(train, nil, nil), false)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	tr.now = func() time.Time {
		return base.Add(time.Duration(tr.step)*wsdDt + time.Duration(max(tr.step-31, 0))*2*wsdDt)
	}
	why, err = tr.Run(context.Background())
	tr.Close()
	if err != nil {
		t.Fatal(err)
	}
	if tr.Step() != 38 || !strings.Contains(why, "time budget 412ms overrun by 25%") || !strings.Contains(why, "before the learning-rate decay was complete (step 38 of 41): stopped anyway") {
		t.Fatalf("safety stop: %q at step %d", why, tr.Step())
	}
	if st := readState(t, cfg.Out); st["step"] != 38.0 || st["decay_steps"] != 10.0 {
		t.Fatalf("state.json after the safety stop: %v", st)
	}
}

// TestBudgetOnlyResumeBitIdentical: a budget-only run interrupted (a
// cancel, which checkpoints) or killed (a copy of its run directory taken
// right after a checkpoint, which is what a SIGKILL leaves) before its
// decay began, at the step it began and during it, and resumed, ends with
// exactly the weights, EMA, moments, learning rates and losses of the
// uninterrupted run; the resumed runs plan the same decay (the clock
// gives the same elapsed time per step) or restore it.
func TestBudgetOnlyResumeBitIdentical(t *testing.T) {
	train, valid := markovRows(40, 32, 1), markovRows(8, 32, 2)
	cfg := budgetConfig(t)
	copies := map[int]string{29: t.TempDir(), 37: t.TempDir()} // after the checkpoints of steps 28 (no decay yet) and 36
	ref := cfg.Out
	full := runToEnd(t, cfg, memData(train, valid, func(s *memStream) {
		s.onNext = func(n int) {
			if dst, ok := copies[n]; ok {
				os.RemoveAll(dst)
				if err := os.CopyFS(dst, os.DirFS(ref)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}), false, stepClock)
	if st := readState(t, copies[29]); st["step"] != 28.0 || st["decay_steps"] != nil {
		t.Fatalf("copy after step 28: %v", st)
	}
	if st := readState(t, copies[37]); st["step"] != 36.0 || st["decay_start"] != 31.0 || st["decay_steps"] != 10.0 {
		t.Fatalf("copy after step 36: %v", st)
	}
	check := func(name, dir string) {
		t.Helper()
		got := runToEnd(t, cfg, memData(train, valid, nil), true, stepClock)
		for what, pair := range map[string][2][]float32{"weights": {full.Params, got.Params}, "ema": {full.EMA, got.EMA},
			"m": {full.M, got.M}, "v": {full.V, got.V}} {
			if len(pair[0]) == 0 || len(pair[0]) != len(pair[1]) {
				t.Fatalf("%s: %s missing", name, what)
			}
			for i := range pair[0] {
				if math.Float32bits(pair[0][i]) != math.Float32bits(pair[1][i]) {
					t.Fatalf("%s: %s[%d] differs from the uninterrupted run: %v vs %v", name, what, i, pair[0][i], pair[1][i])
				}
			}
		}
		a, b := metricLines(t, full.dir), metricLines(t, dir)
		if len(a) != len(b) {
			t.Fatalf("%s: %d metrics lines uninterrupted, %d resumed", name, len(a), len(b))
		}
		for i := range a {
			if a[i].Step != b[i].Step || a[i].LR != b[i].LR || (a[i].Loss == nil) != (b[i].Loss == nil) || (a[i].Loss != nil && *a[i].Loss != *b[i].Loss) {
				t.Fatalf("%s: metrics line %d differs: %+v vs %+v", name, i, a[i], b[i])
			}
		}
		if sa, sb := readState(t, full.dir), readState(t, dir); sa["step"] != sb["step"] || sa["decay_start"] != sb["decay_start"] ||
			sa["decay_steps"] != sb["decay_steps"] || sa["rng"] != sb["rng"] {
			t.Fatalf("%s: state.json differs:\n%v\n%v", name, sa, sb)
		}
	}
	for _, n := range []int{29, 37} {
		cfg.Out = copies[n]
		check("killed after step "+map[int]string{29: "28", 37: "36"}[n], cfg.Out)
	}
	for _, n := range []int{20, 31, 35} { // before the decay, at the step it is planned, during it
		cfg.Out = t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		tr, err := New(cpu.New(cfg.Threads), cfg, memData(train, valid, func(s *memStream) {
			s.onNext = func(k int) {
				if k == n {
					cancel()
				}
			}
		}), false)
		if err != nil {
			t.Fatal(err)
		}
		stepClock(tr)
		if _, err := tr.Run(ctx); err != ErrInterrupted {
			t.Fatalf("interrupted at %d: %v", n, err)
		}
		tr.Close()
		cancel()
		check("interrupted at step "+map[int]string{20: "20", 31: "31", 35: "35"}[n], cfg.Out)
	}
}
