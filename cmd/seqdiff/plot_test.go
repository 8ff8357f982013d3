package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeRuns lays out two models (ppl.json, metrics.jsonl + train.yaml, a
// results.json per task) and a bench.jsonl as the study writes them.
func writeRuns(t *testing.T, dir string) {
	t.Helper()
	put := func(p string, v any) {
		os.MkdirAll(filepath.Dir(p), 0o755)
		var b []byte
		switch x := v.(type) {
		case string:
			b = []byte(x)
		default:
			b, _ = json.Marshal(v)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, mode := range []string{"mdlm", "ar"} {
		m := filepath.Join(dir, "models", mode)
		put(filepath.Join(m, "ppl.json"), map[string]any{"checkpoint": m, "mode": mode, "split": "test", "perplexity": 3.6 + 0.1*float64(i), "bound": mode == "mdlm"})
		put(filepath.Join(m, "train.yaml"), "mode: "+mode+"\n")
		var log strings.Builder
		for s := 1; s <= 30; s++ {
			fmt.Fprintf(&log, `{"step":%d,"tokens":%d,"loss":%g,"lr":0.001,"tokens_per_s":1000,"elapsed":1}`+"\n", s, s*4096, 1.4-0.005*float64(s)+0.01*float64(i))
			if s%10 == 0 {
				fmt.Fprintf(&log, `{"step":%d,"tokens":%d,"lr":0.001,"valid_loss":%g,"tokens_per_s":0,"elapsed":1}`+"\n", s, s*4096, 1.35-0.004*float64(s))
			}
		}
		put(filepath.Join(m, "metrics.jsonl"), log.String())
		for j, task := range []string{"enhancers", "promoters"} {
			a := 0.7 + 0.05*float64(i) + 0.1*float64(j)
			put(filepath.Join(m, "tasks", task, "results.json"), map[string]any{"task": task, "checkpoint": m, "mode": mode, "seeds": []int{1, 2, 3},
				"accuracy": map[string]float64{"mean": a, "min": a - 0.02, "max": a + 0.01}, "mcc": map[string]float64{"mean": 0.4}, "f1": map[string]float64{"mean": 0.7}})
		}
	}
	var bench strings.Builder
	for _, s := range []int{8, 32, 128} {
		fmt.Fprintf(&bench, `{"sampler":"ddpm","n":4,"len":256,"steps":%d,"model_calls":%d,"seconds":1,"tokens_per_s":%g}`+"\n", s, s, 8000.0/float64(s))
		fmt.Fprintf(&bench, `{"sampler":"ddpm_cache","n":4,"len":256,"steps":%d,"model_calls":%d,"seconds":1,"tokens_per_s":%g}`+"\n", s, s, 9000.0/float64(s))
	}
	bench.WriteString(`{"sampler":"ar_kv_cache","n":4,"len":256,"model_calls":255,"seconds":0.1,"tokens_per_s":9000}` + "\n")
	put(filepath.Join(dir, "bench", "bench.jsonl"), bench.String())
}

func TestPlotWritesFigures(t *testing.T) {
	dir := t.TempDir()
	writeRuns(t, dir)
	out := filepath.Join(dir, "figs")
	stdout, _, err := run(t, "plot", "--runs", filepath.Join(dir, "models"), "--runs", filepath.Join(dir, "bench"), "--out", out)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ppl_vs_accuracy", "learning_curves", "sampling_speed"} {
		png, err := os.ReadFile(filepath.Join(out, name+".png"))
		if err != nil || len(png) < 5000 || !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Fatalf("%s.png: %d bytes, %v", name, len(png), err)
		}
		svg, err := os.ReadFile(filepath.Join(out, name+".svg"))
		if err != nil || !bytes.Contains(svg, []byte("<svg")) {
			t.Fatalf("%s.svg: %v", name, err)
		}
		if !strings.Contains(stdout, name+".png") {
			t.Fatalf("stdout does not list %s: %s", name, stdout)
		}
	}
	svg, _ := os.ReadFile(filepath.Join(out, "ppl_vs_accuracy.svg"))
	for _, want := range []string{"enhancers", "promoters", "Overview", "perplexity"} {
		if !bytes.Contains(svg, []byte(want)) {
			t.Fatalf("ppl_vs_accuracy.svg lacks %q", want)
		}
	}
}

func TestPlotNothingToDraw(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := run(t, "plot", "--runs", dir, "--out", filepath.Join(dir, "f")); err == nil || !strings.Contains(err.Error(), "no ppl.json") {
		t.Fatalf("empty runs: %v", err)
	}
	if _, _, err := run(t, "plot", "--runs", filepath.Join(dir, "absent"), "--out", filepath.Join(dir, "f")); err == nil {
		t.Fatal("absent run dir: no error")
	}
	os.WriteFile(filepath.Join(dir, "metrics.jsonl"), []byte("{\"step\":1}\nnot json\n"), 0o644)
	if _, _, err := run(t, "plot", "--runs", dir, "--out", filepath.Join(dir, "f")); err == nil || !strings.Contains(err.Error(), "metrics.jsonl:2") {
		t.Fatalf("bad metrics line: %v", err)
	}
}
