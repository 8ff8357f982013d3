package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFinetuneGenerativeFromMLM fine-tunes a tiny MLM backbone with the AR
// objective: the run's checkpoint is causal (mode ar) with the backbone's
// shape, finetune.json names its origin, and --resume continues it.
func TestFinetuneGenerativeFromMLM(t *testing.T) {
	prep, mlm := tinyRun(t, "mlm", 10)
	out := filepath.Join(t.TempDir(), "ar-ft")
	_, stderr, err := run(t, "finetune", "--mode", "ar", "--from", mlm, "--data", prep, "--out", out, "--max-steps", "6",
		"--eval-every", "3", "--eval-rows", "8", "--ckpt-every", "3", "--threads", "2", "--log-every", "0")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "finetune ar from") || !strings.Contains(stderr, "(mlm)") || !strings.Contains(stderr, "done: reached max steps 6") {
		t.Fatalf("progress:\n%s", stderr)
	}
	var cfg struct {
		Mode   string `json:"mode"`
		DModel int    `json:"d_model"`
		SeqLen int    `json:"seq_len"`
	}
	b, _ := os.ReadFile(filepath.Join(out, "checkpoint", "config.json"))
	if err := json.Unmarshal(b, &cfg); err != nil || cfg.Mode != "ar" || cfg.DModel != 32 || cfg.SeqLen != 64 {
		t.Fatalf("config.json %s: %v", b, err)
	}
	b, _ = os.ReadFile(filepath.Join(out, "finetune.json"))
	if !strings.Contains(string(b), `"from_mode": "mlm"`) || !strings.Contains(string(b), `"ema": true`) {
		t.Fatalf("finetune.json: %s", b)
	}
	// The fine-tuned AR model starts from the MLM weights, so its first
	// loss is far from a random model's ln(12) = 2.48.
	data, _ := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	var first struct{ Loss float64 }
	json.Unmarshal([]byte(strings.SplitN(string(data), "\n", 2)[0]), &first)
	if !(first.Loss > 0 && first.Loss < 2.0) {
		t.Fatalf("first fine-tuning loss %v: the MLM weights were not loaded", first.Loss)
	}
	_, stderr, err = run(t, "finetune", "--out", out, "--resume", "--max-steps", "8", "--log-every", "0")
	if err != nil || !strings.Contains(stderr, "from step 6") || !strings.Contains(stderr, "at step 8") {
		t.Fatalf("resume: %v\n%s", err, stderr)
	}
	if _, _, err := run(t, "finetune", "--mode", "mlm", "--from", mlm, "--data", prep, "--out", filepath.Join(t.TempDir(), "x"), "--max-steps", "2"); err == nil || !strings.Contains(err.Error(), `"mlm": want mdlm, ar`) {
		t.Fatalf("--mode mlm: %v", err)
	}
}

// TestFinetuneTask runs downstream fine-tuning on a TSV of the benchmark
// format and checks results.json and the Markdown table.
func TestFinetuneTask(t *testing.T) {
	_, mdlmRun := tinyRun(t, "mdlm", 4)
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("seq\tlabel\n")
	for i := range 60 {
		if i%2 == 0 {
			b.WriteString(strings.Repeat("AT", 20+i%7) + "\t0\n")
		} else {
			b.WriteString(strings.Repeat("GC", 20+i%5) + "\t1\n")
		}
	}
	task := filepath.Join(dir, "toy.tsv")
	os.WriteFile(task, []byte(b.String()), 0o644)
	out := filepath.Join(dir, "ft")
	stdout, stderr, err := run(t, "finetune", "--task", task, "--from", mdlmRun, "--out", out, "--seeds", "1,2", "--epochs", "2",
		"--batch", "8", "--lr", "1e-3", "--threads", "2", "--device", "cpu")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "| toy |") || !strings.Contains(stderr, "48 train, 12 test") {
		t.Fatalf("stdout %s\nstderr %s", stdout, stderr)
	}
	var res struct {
		Task     string
		Seeds    []int
		Mode     string
		Accuracy struct{ Mean, Min, Max float64 }
		PerSeed  []struct {
			Accuracy float64
			Head     string
			LR       float64
		} `json:"per_seed"`
		Baselines []struct{ Mode string }
	}
	data, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil || json.Unmarshal(data, &res) != nil || res.Task != "toy" || len(res.Seeds) != 2 || len(res.PerSeed) != 2 || res.Mode != "mdlm" ||
		res.Accuracy.Min > res.Accuracy.Mean || res.Accuracy.Mean > res.Accuracy.Max {
		t.Fatalf("results.json %s: %v", data, err)
	}
	// Rows of varying length: the default head is conv; --lr fixes the lr;
	// both baselines sit beside the network.
	if ps := res.PerSeed[0]; ps.Head != "conv" || ps.LR != 1e-3 || len(res.Baselines) != 2 || res.Baselines[0].Mode != "kmer" || res.Baselines[1].Mode != "onehot" {
		t.Fatalf("results.json: head %q lr %g, baselines %+v", ps.Head, ps.LR, res.Baselines)
	}
	if !strings.Contains(stdout, "| onehot |") || !strings.Contains(stdout, "vs ") {
		t.Fatalf("results table lacks the baseline rows:\n%s", stdout)
	}
	study := filepath.Join(dir, "study.yaml")
	os.WriteFile(study, []byte("name: x\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"finetune", "--task", task, "--out", out}, "--from"},
		{[]string{"finetune", "--task", task, "--from", mdlmRun, "--out", out, "--seeds", "1,x"}, "--seeds"},
		{[]string{"finetune", "--task", filepath.Join(dir, "absent.tsv"), "--from", mdlmRun, "--out", out}, "absent.tsv"},
		{[]string{"finetune", "--task", task, "--mode", "ar", "--from", mdlmRun, "--out", out}, "--mode and --data"},
		{[]string{"finetune", "--task", task, "--from", mdlmRun, "--out", filepath.Join(dir, "tpu"), "--device", "tpu"}, `"tpu" for "--device"`},
		{[]string{"finetune", "--mode", "ar", "--from", mdlmRun, "--data", dir, "--out", filepath.Join(dir, "tpu"), "--max-steps", "1", "--device", "tpu"}, `"tpu" for "--device"`},
		{[]string{"experiment", "--config", study, "--out", filepath.Join(dir, "tpu"), "--device", "tpu"}, `"tpu" for "--device"`},
	} {
		if _, _, err := run(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "tpu")); err == nil {
		t.Error("a bad --device left a run directory")
	}
}
