package train

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seqdiff/seqdiff/compute/cpu"
	"github.com/seqdiff/seqdiff/nn"
)

// stopAt runs cfg (fresh or resumed) until the stream has handed out n
// batches, then cancels: the checkpoint is then that of step n.
func stopAt(t *testing.T, cfg Config, train, valid *memRows, resume bool, n int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr, err := New(cpu.New(cfg.Threads), cfg, memData(train, valid, func(s *memStream) {
		s.onNext = func(k int) {
			if k == n {
				cancel()
			}
		}
	}), resume)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if _, err := tr.Run(ctx); err != ErrInterrupted {
		t.Fatalf("run returned %v, want ErrInterrupted", err)
	}
}

// TestRecoverCheckpointAfterKilledSave: the three states a SIGKILL inside
// nn.Checkpoint.Save can leave. The worst one (the checkpoint renamed aside,
// the new one not yet in place) resumes from the aside checkpoint and still
// ends bit-identical to an uninterrupted run.
func TestRecoverCheckpointAfterKilledSave(t *testing.T) {
	train, valid := markovRows(40, 32, 1), markovRows(8, 32, 2)
	cfg := tinyConfig(t, nn.ModeAR)
	cfg.MaxSteps, cfg.Threads = 12, 1
	full := runToEnd(t, cfg, memData(train, valid, nil), false, nil)

	cfg.Out = t.TempDir()
	stopAt(t, cfg, train, valid, false, 5)
	ck := filepath.Join(cfg.Out, nn.CheckpointDir)
	aside := filepath.Join(cfg.Out, ".checkpoint.old-123")
	tmp := filepath.Join(cfg.Out, ".checkpoint.tmp-123")
	if err := os.Rename(ck, aside); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(tmp, 0o755)
	os.WriteFile(filepath.Join(tmp, nn.ModelFile), []byte("half a checkpo"), 0o644)
	// A fresh start must not clobber the run: the checkpoint comes back and
	// the start is refused.
	if _, err := New(cpu.New(1), cfg, memData(train, valid, nil), false); err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Fatalf("fresh start over a run killed mid-checkpoint: %v", err)
	}
	if ok, err := HasCheckpoint(cfg.Out); !ok || err != nil {
		t.Fatalf("HasCheckpoint after recovery: %v %v", ok, err)
	}
	for _, p := range []string{aside, tmp} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("%s left behind: %v", p, err)
		}
	}
	// Simulate it again and resume straight away.
	os.Rename(ck, aside)
	os.MkdirAll(tmp, 0o755)
	resumed := runToEnd(t, cfg, memData(train, valid, nil), true, nil)
	// Bit for bit: the same steps, batches, shapes and cfg.Threads, which
	// compute/cpu makes bit-identical.
	for i := range full.Params {
		if math.Float32bits(full.Params[i]) != math.Float32bits(resumed.Params[i]) ||
			math.Float32bits(full.M[i]) != math.Float32bits(resumed.M[i]) {
			t.Fatalf("weight %d differs after recovering the aside checkpoint", i)
		}
	}
	a, b := metricLines(t, full.dir), metricLines(t, cfg.Out)
	if len(a) != len(b) {
		t.Fatalf("%d metrics lines uninterrupted, %d recovered", len(a), len(b))
	}
	for i := range a {
		if a[i].Step != b[i].Step || (a[i].Loss == nil) != (b[i].Loss == nil) || (a[i].Loss != nil && *a[i].Loss != *b[i].Loss) {
			t.Fatalf("metrics line %d: %+v vs %+v", i, a[i], b[i])
		}
	}

	// Killed while writing the first checkpoint: only a temporary, removed.
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, ".checkpoint.tmp-9"), 0o755)
	if ok, err := HasCheckpoint(dir); ok || err != nil {
		t.Fatalf("HasCheckpoint with only a temporary: %v %v", ok, err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".checkpoint.tmp-9")); !os.IsNotExist(err) {
		t.Fatal("temporary of a killed first checkpoint left behind")
	}
	// An aside directory that is not a checkpoint is never promoted or removed.
	os.MkdirAll(filepath.Join(dir, ".checkpoint.old-9"), 0o755)
	if ok, err := HasCheckpoint(dir); ok || err != nil {
		t.Fatalf("HasCheckpoint with a broken aside: %v %v", ok, err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".checkpoint.old-9")); err != nil {
		t.Fatal("a broken aside checkpoint was removed")
	}
}

// TestETAAfterResume: the ETA is this process's step rate times the steps
// left. The bug it guards against: a run resumed at step 1000 of 1540
// divided this process's 10 s by all 1000 steps and printed "eta 5s".
func TestETAAfterResume(t *testing.T) {
	c := Config{MaxSteps: 1540}
	if got := etaLeft(c, 10*time.Second, 10, 0, 1000, 0, 76*time.Minute); got != 540*time.Second {
		t.Fatalf("eta after resume %v, want 9m0s", got)
	}
	c = Config{MaxTokens: 2000}
	if got := etaLeft(c, 10*time.Second, 10, 100, 1000, 1000, time.Hour); got != 100*time.Second {
		t.Fatalf("eta by tokens %v, want 1m40s", got)
	}
	c = Config{MaxSteps: 1540, TimeBudget: Duration(time.Hour + 17*time.Minute)}
	if got := etaLeft(c, 10*time.Second, 10, 0, 1000, 0, 76*time.Minute); got != time.Minute {
		t.Fatalf("eta with a time budget %v, want 1m0s", got)
	}
	if got := etaLeft(c, 0, 0, 0, 1000, 0, time.Hour); got != 0 {
		t.Fatalf("eta before any step of this process %v, want 0 (unknown)", got)
	}

	// Through the trainer: resumed at step 6 of 12, the ETA after one more
	// step is about the time that step took times 5, not divided by 7.
	train := markovRows(40, 32, 1)
	cfg := tinyConfig(t, nn.ModeAR)
	cfg.MaxSteps, cfg.EvalEvery = 12, 0
	stopAt(t, cfg, train, nil, false, 6)
	tr, err := New(cpu.New(cfg.Threads), cfg, memData(train, nil, nil), true)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	tr.started, tr.startStep = time.Now(), tr.step
	tr.started = tr.started.Add(-6 * time.Second) // as if the step took 6 s
	tr.step++
	if eta := tr.eta(); eta < 29*time.Second || eta > 31*time.Second {
		t.Fatalf("eta %v one step (6 s) after resuming at 6 of 12, want about 30s", eta)
	}
}

// TestStreakKeepsLastGoodCheckpoint: a signal, or the last step, during a
// run of non-finite steps does not replace the last good checkpoint with
// weights that may be what went wrong; the error says so.
func TestStreakKeepsLastGoodCheckpoint(t *testing.T) {
	for _, stop := range []string{"interrupted", "reached max steps 12"} {
		cfg := tinyConfig(t, nn.ModeMDLM)
		cfg.MaxSteps, cfg.MaxBadSteps, cfg.CkptEvery, cfg.EvalEvery = 12, 100, 4, 0
		ctx, cancel := context.WithCancel(context.Background())
		tr, err := New(cpu.New(cfg.Threads), cfg, memData(markovRows(40, 32, 1), nil, nil), false)
		if err != nil {
			t.Fatal(err)
		}
		ckFile := filepath.Join(cfg.Out, nn.CheckpointDir, nn.ModelFile)
		var good []byte
		tr.afterBackward = func(m *nn.Model) {
			if tr.Step() == 9 {
				good, _ = os.ReadFile(ckFile) // step 8's
			}
			if tr.Step() >= 9 {
				m.Grads().Host[0] = float32(math.NaN())
			}
			if tr.Step() == 10 && stop == "interrupted" {
				cancel()
			}
		}
		_, err = tr.Run(ctx)
		tr.Close()
		cancel()
		if err == nil || err == ErrInterrupted || !strings.Contains(err.Error(), stop+" after") ||
			!strings.Contains(err.Error(), "non-finite steps in a row; no checkpoint written, the last good checkpoint stays in") {
			t.Fatalf("%s during a non-finite streak: %v", stop, err)
		}
		if now, _ := os.ReadFile(ckFile); len(good) == 0 || !bytes.Equal(now, good) {
			t.Fatalf("%s during a non-finite streak replaced the last good checkpoint", stop)
		}
	}
}
