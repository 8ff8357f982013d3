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

// TestBenchSampleQuality: every sampler and setting gets a line, and with
// --data each line carries k-mer JS against real windows; the real row
// comes first with the floor and the scorer's NLL of real windows.
func TestBenchSampleQuality(t *testing.T) {
	dir := t.TempDir()
	prep := filepath.Join(dir, "prep")
	if _, _, err := run(t, "prep", "--out", prep, "--seq-len", "64", "--quiet"); err != nil {
		t.Fatal(err)
	}
	ar := filepath.Join(dir, "ar")
	if _, _, err := run(t, "model", "init", "--mode", "ar", "--d-model", "16", "--n-layers", "1", "--n-heads", "2", "--seq-len", "32", "--out", ar); err != nil {
		t.Fatal(err)
	}
	rows := benchSampleRows(t, "--d-model", "16", "--n-layers", "1", "--n-heads", "2", "--seq-len", "32", "--len", "32", "--n", "4",
		"--steps", "4", "--tokens-per-step", "1,8", "--reveal", "cosine", "--data", prep, "--ar", ar)
	var got []string
	for _, r := range rows {
		got = append(got, r.Sampler)
		if len(r.KmerJS) < 3 || !(r.KmerJS[1] >= 0) || r.KmerJS[3] > 1 { // a random model samples N, which breaks long k-mers
			t.Errorf("%s: kmer_js %v", r.Sampler, r.KmerJS)
		}
		if !(r.GenNLL > 0) || r.Scorer != ar {
			t.Errorf("%s: gen_nll %v by %q", r.Sampler, r.GenNLL, r.Scorer)
		}
	}
	want := []string{"real", "ddpm", "ddpm_cache", "topk_confidence", "first_hitting", "first_hitting", "ar_kv_cache"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("samplers %v, want %v", got, want)
	}
	if rows[3].Calls != 4 || rows[3].Reveal != "cosine" || rows[4].Calls != 32 || rows[5].Calls != 4 || rows[5].TokensPerStep != 8 {
		t.Errorf("calls: topk %d (%s), first_hitting k1 %d, k8 %d", rows[3].Calls, rows[3].Reveal, rows[4].Calls, rows[5].Calls)
	}
	if _, _, err := run(t, "bench", "sample", "--scorer", ar); err == nil {
		t.Error("--scorer without --data accepted")
	}
}
