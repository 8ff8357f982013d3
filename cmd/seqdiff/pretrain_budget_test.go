package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seqdiff/seqdiff/evaluate"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/train"
)

// budgetState is the part of state.json a budget-only run adds.
type budgetState struct {
	Step        int     `json:"step"`
	ElapsedS    float64 `json:"elapsed_s"`
	DecayStart  int     `json:"decay_start"`
	DecaySteps  int     `json:"decay_steps"`
	DecayStartS float64 `json:"decay_start_elapsed_s"`
}

func readBudgetState(t *testing.T, run string) (budgetState, bool) {
	t.Helper()
	var st budgetState
	b, err := os.ReadFile(filepath.Join(run, nn.CheckpointDir, nn.StateFile))
	if err != nil {
		return st, false
	}
	return st, json.Unmarshal(b, &st) == nil
}

// checkDecayLRs checks that the metrics log of run holds one training line
// per step up to its checkpoint's step, and that steps S+1..S+N of the
// recorded decay have exactly the linear decay's learning rates (the
// last at min_lr_frac x lr).
func checkDecayLRs(t *testing.T, run string, st budgetState, lr, minFrac float64, warmup int) {
	t.Helper()
	var last float64
	n := 0
	for _, l := range readMetrics(t, run) {
		if l.Loss == nil && l.Skipped == "" {
			continue
		}
		n++
		if l.Step > st.DecayStart {
			if want := train.WSD(l.Step-1, warmup, st.DecayStart, st.DecaySteps, lr, minFrac); l.LR != want {
				t.Fatalf("%s: step %d lr %v, want %v (decay %d+%d)", run, l.Step, l.LR, want, st.DecayStart, st.DecaySteps)
			}
		}
		last = l.LR
	}
	if n != st.Step {
		t.Fatalf("%s: %d training lines, checkpoint at step %d", run, n, st.Step)
	}
	if st.Step == st.DecayStart+st.DecaySteps && last != minFrac*lr {
		t.Fatalf("%s: last lr %v, want min_lr_frac x lr = %v", run, last, minFrac*lr)
	}
}

// TestPretrainTimeBudgetOnly: `seqdiff pretrain --time-budget 3s` alone
// runs for about its budget, decays the learning rate over its last 20%,
// records the decay in state.json and leaves a checkpoint that eval ppl
// scores. A run SIGKILLed after its decay began and resumed ends exactly
// as a resume of an untouched copy of the same checkpoint: both continue
// the recorded decay, whatever their clocks say.
func TestPretrainTimeBudgetOnly(t *testing.T) {
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp")
	os.Mkdir(tmp, 0o755)
	prep := filepath.Join(dir, "prep")
	if _, _, err := run(t, "prep", "--out", prep, "--seq-len", "64", "--quiet"); err != nil {
		t.Fatal(err)
	}
	tiny := []string{"--mode", "ar", "--data", prep, "--d-model", "16", "--n-layers", "1", "--n-heads", "2", "--batch", "4",
		"--threads", "1", "--log-every", "0", "--seed", "3"}
	const lr, minFrac, warmup = 3e-4, 0.1, 100 // the defaults

	t.Run("run", func(t *testing.T) {
		out := filepath.Join(dir, "run")
		budget := 3 * time.Second
		t0 := time.Now()
		_, stderr, err := run(t, append([]string{"pretrain", "--out", out, "--time-budget", "3s"}, tiny...)...)
		wall := time.Since(t0)
		if err != nil {
			t.Fatalf("pretrain: %v\n%s", err, stderr)
		}
		t.Logf("wall %v\n%s", wall.Round(time.Millisecond), stderr)
		if wall < budget/2 || wall > 3*budget {
			t.Errorf("a 3s budget took %v of wall time", wall)
		}
		if !strings.Contains(stderr, "horizon: time budget 3s, warm-up 100 steps, then constant, linear decay over the last 20%") {
			t.Errorf("banner does not describe the schedule:\n%s", stderr)
		}
		st, ok := readBudgetState(t, out)
		if !ok || st.DecaySteps < 1 || st.DecayStart < 1 || st.DecayStartS < 2.4 || st.DecayStartS > 3 || st.Step > st.DecayStart+st.DecaySteps {
			t.Fatalf("state.json does not record a decay begun at 80%% of the budget: %+v", st)
		}
		switch {
		case strings.Contains(stderr, "done: learning-rate decay complete"):
			if st.Step != st.DecayStart+st.DecaySteps {
				t.Fatalf("decay complete at step %d, planned to end at %d", st.Step, st.DecayStart+st.DecaySteps)
			}
		case strings.Contains(stderr, "stopped anyway"): // the machine slowed down twofold in the decay
			t.Logf("safety stop (a loaded machine): %+v", st)
		default:
			t.Fatalf("stop reason:\n%s", stderr)
		}
		checkDecayLRs(t, out, st, lr, minFrac, warmup)
		stdout, _, err := run(t, "eval", "ppl", "--ckpt", out, "--data", prep, "--max-rows", "8", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var rep evaluate.Report
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Rows != 8 || !(rep.Perplexity > 1 && rep.Perplexity < 6) {
			t.Fatalf("eval ppl: %+v", rep)
		}
		t.Logf("eval ppl %.3f after %d steps (decay over steps %d-%d)", rep.Perplexity, st.Step, st.DecayStart+1, st.DecayStart+st.DecaySteps)
	})

	t.Run("kill in the decay", func(t *testing.T) {
		// Half the budget decays, and the kill comes once a checkpoint is
		// half-way through the decay. The resumes continue the plan the
		// checkpoint recorded; they get a long budget so that only that
		// plan decides where they end (on a loaded machine the safety stop
		// at 1.5 x a 2 s budget could otherwise come at different steps).
		killed, untouched := filepath.Join(dir, "killed"), filepath.Join(dir, "untouched")
		p := start(t, tmp, append([]string{"pretrain", "--out", killed, "--time-budget", "2s", "--decay-frac", "0.5", "--ckpt-every", "20"}, tiny...)...)
		for {
			if st, ok := readBudgetState(t, killed); ok && st.DecaySteps > 0 && st.Step >= st.DecayStart+st.DecaySteps/2 {
				break
			}
			if p.exited() {
				t.Fatalf("the run ended before a checkpoint recorded its decay: %v\n%s", p.err, p.stderr.String())
			}
			time.Sleep(time.Millisecond)
		}
		p.cmd.Process.Kill()
		if !p.wait() {
			t.Fatalf("the run ended before the kill: %v\n%s", p.err, p.stderr.String())
		}
		if err := os.CopyFS(untouched, os.DirFS(killed)); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{killed, untouched} {
			_, stderr, err := run(t, "pretrain", "--out", d, "--resume", "--time-budget", "1h")
			if err != nil || !strings.Contains(stderr, "done: learning-rate decay complete") {
				t.Fatalf("resume %s: %v\n%s", d, err, stderr)
			}
		}
		sameRun(t, untouched, killed)
		st, _ := readBudgetState(t, killed)
		if st.Step != st.DecayStart+st.DecaySteps {
			t.Fatalf("resumed run ended at step %d, its decay at %d", st.Step, st.DecayStart+st.DecaySteps)
		}
		checkDecayLRs(t, killed, st, lr, minFrac, warmup)
		t.Logf("killed in the decay (steps %d-%d), resumed: bit-identical to a resume of the untouched copy, ended at step %d",
			st.DecayStart+1, st.DecayStart+st.DecaySteps, st.Step)
	})
}

// TestPretrainDecayFracFlag: --decay-frac outside (0,1) is refused before
// anything is touched, and a time budget alone is no longer an error.
func TestPretrainDecayFracFlag(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"0", "1", "-0.5", "1.5"} {
		_, _, err := run(t, "pretrain", "--data", dir, "--out", filepath.Join(dir, "run"), "--time-budget", "1m", "--decay-frac", f)
		if err == nil || !strings.Contains(err.Error(), "decay_frac") {
			t.Errorf("--decay-frac %s: %v", f, err)
		}
	}
	// Accepted: the error is the missing prep directory's, not the schedule's.
	_, _, err := run(t, "pretrain", "--data", dir, "--out", filepath.Join(dir, "run"), "--time-budget", "1m")
	if err == nil || !strings.Contains(err.Error(), "manifest.json") {
		t.Errorf("--time-budget alone: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "run")); !os.IsNotExist(err) {
		t.Errorf("a refused run left its run dir: %v", err)
	}
}
