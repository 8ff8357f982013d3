package train

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLRSchedule(t *testing.T) {
	const lr, minFrac = 1e-3, 0.1
	for _, c := range []struct {
		step int
		want float64
	}{{0, 1e-4}, {9, 1e-3}, {10, 1e-3}, {60, 1e-3 * (0.1 + 0.9*0.5)}, {110, 1e-4}, {500, 1e-4}} {
		if got := LR(c.step, 10, 110, lr, minFrac); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("LR(%d) = %g, want %g", c.step, got, c.want)
		}
	}
	for s := 11; s < 110; s++ {
		if LR(s, 10, 110, lr, minFrac) > LR(s-1, 10, 110, lr, minFrac) {
			t.Fatalf("cosine not decreasing at %d", s)
		}
	}
}

func TestConfigYAML(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.yaml")
	os.WriteFile(p, []byte("mode: ar\ndata: d\nout: o\nmax_steps: 7\ntime_budget: 90m\nbatch: 4\n"), 0o644)
	c := Default()
	if err := c.ReadYAML(p); err != nil {
		t.Fatal(err)
	}
	if c.Mode != "ar" || c.MaxSteps != 7 || c.Batch != 4 || c.TimeBudget.String() != "1h30m0s" || c.LR != 3e-4 {
		t.Fatalf("read %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	y, _ := c.YAML()
	c2 := Default()
	os.WriteFile(p, y, 0o644)
	if err := c2.ReadYAML(p); err != nil || c2 != c {
		t.Fatalf("train.yaml round trip: %v\n%+v\n%+v", err, c, c2)
	}
	os.WriteFile(p, []byte("mode: ar\nmax_step: 7\n"), 0o644)
	c3 := Default()
	if err := c3.ReadYAML(p); err == nil || !strings.Contains(err.Error(), "max_step") {
		t.Fatalf("unknown key accepted: %v", err)
	}
	if c.DecayFrac != 0.2 {
		t.Fatalf("decay_frac absent from the YAML reads %v, want the default 0.2", c.DecayFrac)
	}
	c.MaxSteps, c.MaxTokens = 0, 0
	if err := c.Validate(); err != nil || !c.BudgetOnly() {
		t.Fatalf("time budget alone: %v (budget only %v)", err, c.BudgetOnly())
	}
	for _, f := range []float64{0, 1, -0.1, math.NaN()} {
		c.DecayFrac = f
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "decay_frac") {
			t.Fatalf("decay_frac %v: %v", f, err)
		}
	}
	c.DecayFrac, c.TimeBudget = 0.5, 0
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "no stopping rule") {
		t.Fatalf("no stopping rule: %v", err)
	}
	c.MaxTokens = 1000
	if h := c.Horizon(64); h != 16 {
		t.Fatalf("horizon %d from max tokens 1000 at 64 per step, want 16", h)
	}
}

// TestConfigAccumTSampling: accum and t_sampling are checked, written to
// train.yaml, and a train.yaml from before t_sampling reads as the
// systematic times its run was trained with.
func TestConfigAccumTSampling(t *testing.T) {
	c := Default()
	c.Data, c.Out, c.MaxSteps = "d", "o", 1
	if c.Accum != 1 || c.TSampling != "stratified" || c.StepRows() != 8 {
		t.Fatalf("defaults: accum %d, t_sampling %q", c.Accum, c.TSampling)
	}
	bad := c
	bad.Accum = 0
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "accum 0") {
		t.Fatalf("accum 0: %v", err)
	}
	bad = c
	bad.TSampling = "antithetic"
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "t_sampling") {
		t.Fatalf("t_sampling antithetic: %v", err)
	}
	dir := t.TempDir()
	c.Accum, c.TSampling = 4, "iid"
	y, _ := c.YAML()
	os.WriteFile(filepath.Join(dir, ConfigYAML), y, 0o644)
	if got, err := ReadRunConfig(dir); err != nil || got != c || got.StepRows() != 32 {
		t.Fatalf("train.yaml round trip: %v\n%+v\n%+v", err, got, c)
	}
	old := strings.ReplaceAll(strings.ReplaceAll(string(y), "t_sampling: iid\n", ""), "accum: 4\n", "")
	os.WriteFile(filepath.Join(dir, ConfigYAML), []byte(old), 0o644)
	if got, err := ReadRunConfig(dir); err != nil || got.TSampling != "systematic" || got.Accum != 1 {
		t.Fatalf("an older train.yaml reads t_sampling %q, accum %d (%v); want systematic, 1", got.TSampling, got.Accum, err)
	}
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	unlock, err := Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(dir); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second lock: %v", err)
	}
	unlock()
	// A lock file without a live flock (its run was killed) is taken over.
	os.WriteFile(filepath.Join(dir, LockFile), []byte("2147483600\n"), 0o644)
	unlock, err = Lock(dir)
	if err != nil {
		t.Fatalf("stale lock not taken over: %v", err)
	}
	unlock()
	if _, err := os.Stat(filepath.Join(dir, LockFile)); !os.IsNotExist(err) {
		t.Fatal("unlock left the lock file")
	}
}
