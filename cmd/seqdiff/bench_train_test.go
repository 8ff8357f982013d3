package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/train"
)

func TestBenchTrain(t *testing.T) {
	for _, mode := range []string{"mdlm", "ar"} {
		stdout, _, err := run(t, "bench", "train", "--mode", mode, "--d-model", "16", "--n-layers", "1", "--n-heads", "2",
			"--seq-len", "32", "--batch", "2", "--timed-steps", "2", "--untimed-steps", "1", "--threads", "1", "--json", "--profile")
		if err != nil {
			t.Fatal(err)
		}
		var r train.BenchTrainResult
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatalf("%v in %q", err, stdout)
		}
		if r.Mode != mode || r.TokensPerS <= 0 || r.Batch != 2 || r.SeqLen != 32 || r.Steps != 2 || r.PeakRSSMiB <= 0 {
			t.Errorf("%s: %+v", mode, r)
		}
		if !(r.FinalLoss > 1 && r.FinalLoss < 5) {
			t.Errorf("%s: loss %v", mode, r.FinalLoss)
		}
		classes := map[string]bool{}
		for _, p := range r.ProfileRows {
			classes[p.Class] = true
		}
		for _, c := range []string{"attention_fwd", "attention_bwd", "matmul_fwd", "matmul_bwd", "optimizer", "crossentropy"} {
			if !classes[c] {
				t.Errorf("%s: profile lacks %s: %v", mode, c, r.ProfileRows)
			}
		}
	}
	if _, _, err := run(t, "bench", "train", "--mode", "mlm"); !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), `"mlm": want mdlm, ar`) {
		t.Errorf("mode mlm: %v", err)
	}
	if _, _, err := run(t, "bench", "train", "--device", "tpu"); !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), `"tpu"`) {
		t.Errorf("device tpu: %v", err)
	}
}

func TestBenchTrainData(t *testing.T) {
	prep := t.TempDir() + "/prep"
	if _, _, err := run(t, "prep", "--out", prep, "--seq-len", "64"); err != nil {
		t.Fatal(err)
	}
	stdout, _, err := run(t, "bench", "train", "--mode", "ar", "--data", prep, "--d-model", "16", "--n-layers", "1",
		"--n-heads", "2", "--seq-len", "64", "--batch", "4", "--steps", "30", "--warmup", "0", "--lr", "3e-3", // the deprecated names still run
		"--log-every", "15", "--threads", "1")
	if err != nil {
		t.Fatal(err)
	}
	var valid []float64
	for _, line := range strings.Split(stdout, "\n") {
		var step int
		var v float64
		if i := strings.Index(line, "valid loss "); i >= 0 {
			if _, err := fmt.Sscanf(line, "step %d", &step); err == nil {
				fmt.Sscanf(line[i:], "valid loss %g", &v)
				valid = append(valid, v)
			}
		}
	}
	// step 0, 15 and 30
	if len(valid) != 3 || !(valid[2] < valid[0]-0.3) {
		t.Fatalf("valid losses %v do not fall:\n%s", valid, stdout)
	}
	if _, _, err := run(t, "bench", "train", "--data", prep, "--seq-len", "32", "--d-model", "16", "--n-layers", "1",
		"--n-heads", "2"); err == nil || !strings.Contains(err.Error(), "does not fit the model") || !strings.Contains(err.Error(), "seq_len 32") {
		t.Fatalf("short model: %v", err)
	}
}
