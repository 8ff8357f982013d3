package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestBenchTrain(t *testing.T) {
	for _, mode := range []string{"mdlm", "ar"} {
		stdout, _, err := run(t, "bench", "train", "--mode", mode, "--d-model", "16", "--n-layers", "1", "--n-heads", "2",
			"--seq-len", "32", "--batch", "2", "--steps", "2", "--warmup", "1", "--threads", "1", "--json", "--profile")
		if err != nil {
			t.Fatal(err)
		}
		var r benchResult
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
	if _, _, err := run(t, "bench", "train", "--mode", "mlm"); err == nil || !strings.Contains(err.Error(), "mdlm or ar") {
		t.Errorf("mode mlm: %v", err)
	}
}
