package plots

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestPreciseTicksAreDistinct(t *testing.T) {
	for _, r := range [][2]float64{{3.69, 3.81}, {0.57, 0.69}, {1, 1000}, {3.7001, 3.7009}} {
		seen := map[string]bool{}
		for _, tk := range (preciseTicks{}).Ticks(r[0], r[1]) {
			if tk.Label == "" {
				continue
			}
			if seen[tk.Label] {
				t.Fatalf("range %v: label %q twice", r, tk.Label)
			}
			seen[tk.Label] = true
		}
		if len(seen) < 2 {
			t.Fatalf("range %v: %d labelled ticks", r, len(seen))
		}
	}
}

// TestPreciseTicksLabelTheirValue: every label parses back to its tick's
// value (ticks at 3.75, 3.85 with a step of 0.1 once printed "3.8", "3.9",
// a whole minor tick away from where they were drawn).
func TestPreciseTicksLabelTheirValue(t *testing.T) {
	for _, r := range [][2]float64{{3.714, 3.99}, {3.69, 3.81}, {0.57, 0.69}, {1, 1000}, {-0.33, 0.41}} {
		for _, tk := range (preciseTicks{}).Ticks(r[0], r[1]) {
			if tk.Label == "" {
				continue
			}
			v, err := strconv.ParseFloat(tk.Label, 64)
			if err != nil || math.Abs(v-tk.Value) > 1e-9*math.Max(1, math.Abs(tk.Value)) {
				t.Errorf("range %v: tick at %v labelled %q", r, tk.Value, tk.Label)
			}
		}
	}
}

func TestSmoothIsTrailingMean(t *testing.T) {
	xy := smooth([][2]float64{{1e6, 1}, {2e6, 3}, {3e6, 5}, {4e6, 7}}, 2)
	want := []float64{1, 2, 4, 6}
	for i, p := range xy {
		if p.Y != want[i] || p.X != float64(i+1) {
			t.Fatalf("smooth: %v", xy)
		}
	}
}

// TestCollectPairsNearestPPL: a results.json pairs with the ppl.json of the
// directory above it, not with another model's.
func TestCollectPairsNearestPPL(t *testing.T) {
	dir := t.TempDir()
	put := func(p, s string) {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []struct{ name, ppl string }{{"a", "3.5"}, {"b", "3.9"}} {
		put(filepath.Join(dir, m.name, PPLFile), `{"checkpoint":"x","mode":"ar","perplexity":`+m.ppl+`}`)
		put(filepath.Join(dir, m.name, "tasks", "t", ResultsFile), `{"task":"t","mode":"ar","checkpoint":"x","accuracy":{"mean":0.5}}`)
	}
	put(filepath.Join(dir, ".partial", PPLFile), `{"perplexity":1}`) // skipped
	r, err := Collect(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Points) != 2 || len(r.PPLs) != 2 {
		t.Fatalf("points %d, ppls %d", len(r.Points), len(r.PPLs))
	}
	for _, p := range r.Points {
		want := map[string]float64{"a": 3.5, "b": 3.9}[filepath.Base(p.Model)]
		if p.PPL != want {
			t.Fatalf("model %s paired with perplexity %v, want %v", p.Model, p.PPL, want)
		}
	}
	put(filepath.Join(dir, "bad", ResultsFile), `{"task":`)
	if _, err := Collect(dir); err == nil {
		t.Fatal("broken results.json: no error")
	}
}
