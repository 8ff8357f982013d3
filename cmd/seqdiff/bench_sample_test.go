package main

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/mdlm"
	"github.com/seqdiff/seqdiff/train"
)

func benchSampleRows(t *testing.T, args ...string) []train.SampleTiming {
	t.Helper()
	out, _, err := run(t, append([]string{"bench", "sample", "--json", "--threads", "1"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	var rows []train.SampleTiming
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r train.SampleTiming
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		rows = append(rows, r)
	}
	return rows
}

// TestBenchSample: one ddpm and one ddpm_cache row per --steps value with
// the model calls, E[NFE] from mdlm.ExpectedCalls and the predicted
// speed-up; with T well above the positions the cache makes far fewer
// calls; a time-conditioned model never reuses logits.
func TestBenchSample(t *testing.T) {
	shape := []string{"--d-model", "16", "--n-layers", "1", "--n-heads", "2", "--seq-len", "16", "--len", "16", "--n", "1"}
	rows := benchSampleRows(t, append(shape, "--steps", "8,200", "--samplers", "ddpm,ddpm_cache")...)
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 4: %+v", len(rows), rows)
	}
	for i, T := range []int{8, 200} {
		d, c := rows[2*i], rows[2*i+1]
		e := mdlm.ExpectedCalls(nil, T, 1, 16)
		eD, eC := e.Calls, e.CacheCalls
		if d.Sampler != "ddpm" || c.Sampler != "ddpm_cache" || d.Steps != T || c.Steps != T {
			t.Fatalf("T=%d rows %+v %+v", T, d, c)
		}
		if d.Calls > T || c.Calls > d.Calls || c.Calls < 1 || math.Abs(d.ExpectedCalls-eD) > 1e-9 || math.Abs(c.ExpectedCalls-eC) > 1e-9 {
			t.Errorf("T=%d: calls %d, %d; expected %v, %v (want %v, %v)", T, d.Calls, c.Calls, d.ExpectedCalls, c.ExpectedCalls, eD, eC)
		}
		if c.Speedup <= 0 || math.Abs(c.PredictedSpeedup-eD/eC) > 1e-9 {
			t.Errorf("T=%d: speed-up %v, predicted %v", T, c.Speedup, c.PredictedSpeedup)
		}
	}
	// 16 positions over 200 steps: at most 16 distinct reveal steps.
	if rows[3].Calls > 16 {
		t.Errorf("ddpm_cache made %d calls for 16 positions", rows[3].Calls)
	}
	// A batch: ddpm_cache runs only the rows that changed.
	rows = benchSampleRows(t, "--d-model", "16", "--n-layers", "1", "--n-heads", "2", "--seq-len", "16", "--len", "16", "--n", "3", "--steps", "200", "--samplers", "ddpm,ddpm_cache")
	if rows[0].RowEvals != 3*rows[0].Calls || rows[1].RowEvals > 3*16 || rows[1].RowEvals < rows[1].Calls {
		t.Errorf("batch of 3: ddpm %d calls, %d rows; ddpm_cache %d calls, %d rows", rows[0].Calls, rows[0].RowEvals, rows[1].Calls, rows[1].RowEvals)
	}

	ck := filepath.Join(t.TempDir(), "tc")
	if _, _, err := run(t, append([]string{"model", "init", "--mode", "mdlm", "--time-conditioning", "--out", ck}, shape[:8]...)...); err != nil {
		t.Fatal(err)
	}
	rows = benchSampleRows(t, "--mdlm", ck, "--len", "16", "--n", "1", "--steps", "100", "--samplers", "ddpm,ddpm_cache")
	if rows[0].Calls != rows[1].Calls || rows[1].ExpectedCalls != rows[0].ExpectedCalls {
		t.Errorf("time-conditioned model: ddpm %d calls, ddpm_cache %d (expected %v, %v)", rows[0].Calls, rows[1].Calls, rows[0].ExpectedCalls, rows[1].ExpectedCalls)
	}
	if _, _, err := run(t, "bench", "sample", "--samplers", "ddpm,bogus"); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("unknown sampler: err %v", err)
	}
	if _, _, err := run(t, "model", "init", "--mode", "ar", "--time-conditioning", "--out", filepath.Join(t.TempDir(), "x")); err == nil {
		t.Error("ar model with --time-conditioning accepted")
	}
}
