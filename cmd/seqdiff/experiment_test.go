package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/experiment"
	"github.com/seqdiff/seqdiff/train"
)

// microStudy is a study config small enough for a unit test: rows of 64,
// a 1-layer d-16 model, a few steps per stage, one seed.
const microStudy = `name: micro
threads: 2
prep:
  seq_len: 64
pretrain:
  d_model: 16
  n_layers: 1
  n_heads: 2
  batch: 4
  lr: 3.0e-3
  warmup: 2
  max_steps: 6
  eval_every: 3
  eval_rows: 8
  eval_samples: 1
  ckpt_every: 3
  log_every: 0
  seed: 1
finetune:
  modes: [mdlm, ar]
  batch: 4
  lr: 1.0e-3
  warmup: 1
  max_steps: 4
  eval_every: 2
  eval_rows: 8
  eval_samples: 1
  ckpt_every: 2
  log_every: 0
ppl:
  samples: 1
  max_rows: 8
tasks:
  - name: hw
    builtin: human_or_worm
    per_class: 30
    len: 48
downstream:
  seeds: [1]
  batch: 8
  epochs: 1
bench:
  n: 1
  len: 16
  steps: [2, 4]
`

func TestExperimentMicroStudyResumes(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "study.yaml")
	if err := os.WriteFile(cfg, []byte(microStudy), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "study")
	_, stderr, err := run(t, "experiment", "--config", cfg, "--out", out)
	if err != nil {
		t.Fatalf("first run: %v\n%s", err, stderr)
	}
	for _, f := range []string{"prep/manifest.json", "tasks/hw.tsv", "models/mlm/checkpoint/model.safetensors",
		"models/mdlm/finetune.json", "models/ar/checkpoint/state.json", "models/mdlm/ppl.json", "models/ar/ppl.json",
		"models/mdlm/tasks/hw/results.json", "models/ar/tasks/hw/results.json", "bench/bench.jsonl",
		"figures/ppl_vs_accuracy.png", "figures/learning_curves.svg", "figures/sampling_speed.png", "report.md"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Fatalf("study output %s: %v", f, err)
		}
	}
	var org struct{ From, FromMode, Mode string }
	b, _ := os.ReadFile(filepath.Join(out, "models/ar/finetune.json"))
	if err := json.Unmarshal(b, &org); err != nil || org.Mode != "ar" || !strings.HasSuffix(org.From, "models/mlm") {
		t.Fatalf("finetune.json %s: %v", b, err)
	}
	var cfgAR struct {
		Mode string `json:"mode"`
	}
	b, _ = os.ReadFile(filepath.Join(out, "models/ar/checkpoint/config.json"))
	if json.Unmarshal(b, &cfgAR); cfgAR.Mode != "ar" {
		t.Fatalf("fine-tuned ar checkpoint has mode %q", cfgAR.Mode)
	}
	rep, _ := os.ReadFile(filepath.Join(out, "report.md"))
	for _, want := range []string{"## Perplexity", "upper bound", "| hw | mdlm | mdlm | 1 |", "| hw | ar | ar | 1 |", "figures/ppl_vs_accuracy.png", "ddpm_cache"} {
		if !strings.Contains(string(rep), want) {
			t.Fatalf("report.md lacks %q:\n%s", want, rep)
		}
	}
	if entries, _ := filepath.Glob(filepath.Join(out, "models", ".*")); len(entries) != 0 {
		t.Fatalf("partial outputs left: %v", entries)
	}

	// The second run finds every output and skips every stage.
	_, stderr, err = run(t, "experiment", "--config", cfg, "--out", out)
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, stderr)
	}
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if !strings.Contains(l, "skipped") && !strings.Contains(l, " done ") && !strings.Contains(l, "tasks      hw: ") {
			t.Fatalf("second run did work: %q\n%s", l, stderr)
		}
	}
	if n := strings.Count(stderr, "skipped"); n < 13 {
		t.Fatalf("second run skipped %d outputs, want every one:\n%s", n, stderr)
	}

	// Another configuration is refused in the same directory.
	other := filepath.Join(dir, "other.yaml")
	os.WriteFile(other, []byte(strings.Replace(microStudy, "max_steps: 6", "max_steps: 7", 1)), 0o644)
	if _, _, err := run(t, "experiment", "--config", other, "--out", out); err == nil || !strings.Contains(err.Error(), "another configuration") {
		t.Fatalf("other config: %v", err)
	}

	// The k-mer baseline rows sit beside the models, MDLM's bidirectional
	// floor (M = 5 by default) with a sentence on which side MDLM lies.
	if _, err := os.Stat(filepath.Join(out, "models/kmer-bidirectional/ppl.json")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| kmer | kmer |", "| hw | kmer | kmer | 1 |", "| hw | onehot | onehot | 1 |", " vs ", "| kmer-bidirectional | kmer-bidirectional |", "up to 5 visible bases each side", "- mdlm's NELBO"} {
		if !strings.Contains(string(rep), want) {
			t.Fatalf("report.md lacks %q:\n%s", want, rep)
		}
	}
	testGivenModels(t, dir, out)

	// A removed stage output is redone, and only it.
	os.Remove(filepath.Join(out, "models/ar/ppl.json"))
	os.Remove(filepath.Join(out, "report.md"))
	_, stderr, err = run(t, "experiment", "--config", cfg, "--out", out)
	if err != nil || !strings.Contains(stderr, "ppl        ar: test perplexity") || strings.Contains(stderr, "ppl        mdlm: test") {
		t.Fatalf("redo: %v\n%s", err, stderr)
	}
}

// TestExperimentResumesPartialTraining: a pre-training run left in
// models/.mlm.partial by a killed study is resumed from its checkpoint.
func TestExperimentResumesPartialTraining(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "study.yaml")
	if err := os.WriteFile(cfg, []byte(microStudy), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "study")
	c, err := experiment.ReadConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := experiment.Stamp(out, c); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, "prep", "--out", filepath.Join(out, "prep"), "--seq-len", "64", "--quiet"); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := run(t, "pretrain", "--mode", "mlm", "--data", filepath.Join(out, "prep"), "--out", filepath.Join(out, "models", ".mlm.partial"),
		"--d-model", "16", "--n-layers", "1", "--n-heads", "2", "--batch", "4", "--max-steps", "3", "--eval-every", "0", "--threads", "2", "--seed", "1"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	_, stderr, err := run(t, "experiment", "--config", cfg, "--out", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "prep       skipped") || !strings.Contains(stderr, "(from step 3)") || !strings.Contains(stderr, "mlm: reached max steps 6 at step 6") {
		t.Fatalf("no resume of the partial pre-training:\n%s", stderr)
	}
}

// TestExperimentStopsAtBadTaskPath: a task file that does not exist stops
// the study at its stage, after the stages before it.
func TestExperimentStopsAtBadTaskPath(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "study.yaml")
	if err := os.WriteFile(cfg, []byte(strings.Replace(microStudy, "    builtin: human_or_worm\n", "    path: "+filepath.Join(dir, "absent.tsv")+"\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := run(t, "experiment", "--config", cfg, "--out", filepath.Join(dir, "s"))
	if err == nil || !strings.Contains(err.Error(), "absent.tsv") || !strings.Contains(err.Error(), "stage tasks") {
		t.Fatalf("missing task file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "s", "prep", "manifest.json")); err != nil {
		t.Fatal("prep did not run before the failing stage")
	}
}

func TestExperimentBadConfig(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"unknown key":  "pretrain:\n  max_stepz: 3\n",
		"bad mode":     "finetune:\n  modes: [mlm]\n",
		"task no path": "tasks:\n  - name: x\n",
		"floor M":      "baseline:\n  bidirectional: 9\n",
	} {
		cfg := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yaml")
		os.WriteFile(cfg, []byte(body), 0o644)
		if _, _, err := run(t, "experiment", "--config", cfg, "--out", filepath.Join(dir, "o")); err == nil || !strings.Contains(err.Error(), cfg) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestShippedStudyConfigsParse(t *testing.T) {
	// study-chr20-ckpt.yaml names checkpoints of this machine's /tmp/runs:
	// it parses where they exist.
	if _, err := os.Stat("/tmp/runs/chr20-mdlm/checkpoint/config.json"); err == nil {
		c, err := experiment.ReadConfig(filepath.Join("..", "..", "configs", "study-chr20-ckpt.yaml"))
		if err != nil || len(c.Models) != 2 || c.Downstream.MaxTrain == 0 {
			t.Fatalf("study-chr20-ckpt.yaml: %v %+v", err, c.Models)
		}
	}
	for _, f := range []string{"study-demo.yaml", "study-chr20.yaml"} {
		c, err := experiment.ReadConfig(filepath.Join("..", "..", "configs", f))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Tasks) == 0 || len(c.Finetune.Modes) != 2 || c.Pretrain.Mode != "mlm" || c.Pretrain.MaxSteps == 0 || c.Finetune.MaxSteps == 0 {
			t.Fatalf("%s: %+v", f, c)
		}
	}
}

// testGivenModels runs a study that names the micro study's checkpoints
// (models: list, prep.dir): no training stage runs, and the later stages
// write into the new study's models/NAME.
func testGivenModels(t *testing.T, dir, micro string) {
	body := `name: given
threads: 2
prep:
  dir: ` + filepath.Join(micro, "prep") + `
models:
  - name: a
    objective: ar
    ckpt: ` + filepath.Join(micro, "models/ar") + `
  - name: d
    ckpt: ` + filepath.Join(micro, "models/mdlm/checkpoint") + `
ppl:
  samples: 1
  max_rows: 4
baseline:
  ppl_orders: [0, 2]
  task_ks: [1, 2]
  bidirectional: 2
tasks:
  - name: hw
    path: ` + filepath.Join(micro, "tasks/hw.tsv") + `
downstream:
  seeds: [1, 2]
  batch: 4
  epochs: 1
  max_train: 24
  max_test: 10
bench:
  n: 1
  len: 16
  steps: [2]
`
	cfg := filepath.Join(dir, "given.yaml")
	os.WriteFile(cfg, []byte(body), 0o644)
	out := filepath.Join(dir, "given")
	_, stderr, err := run(t, "experiment", "--config", cfg, "--out", out, "--device", "cpu")
	if err != nil {
		t.Fatalf("given models: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "pretrain   skipped: the config gives its models (a, d)") {
		t.Fatalf("pretrain not skipped:\n%s", stderr)
	}
	for _, f := range []string{"models/a/ppl.json", "models/d/ppl.json", "models/a/tasks/hw/results.json", "models/d/tasks/hw/results.json",
		"models/kmer/ppl.json", "models/kmer/tasks/hw/results.json", "models/onehot/tasks/hw/results.json", "figures/ppl_vs_accuracy.png", "figures/learning_curves.png", "report.md"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Fatalf("given-models output %s: %v", f, err)
		}
	}
	for _, f := range []string{"prep", "models/mlm", "models/a/checkpoint"} {
		if _, err := os.Stat(filepath.Join(out, f)); err == nil {
			t.Fatalf("given-models study made %s", f)
		}
	}
	var res struct {
		NTest   int `json:"n_test"`
		PerSeed []struct {
			TrainRows int `json:"train_rows"`
			ValidRows int `json:"valid_rows"`
		} `json:"per_seed"`
	}
	b, _ := os.ReadFile(filepath.Join(out, "models/a/tasks/hw/results.json"))
	if err := json.Unmarshal(b, &res); err != nil || res.NTest != 10 || len(res.PerSeed) != 2 || res.PerSeed[0].TrainRows+res.PerSeed[0].ValidRows != 24 {
		t.Fatalf("max_train/max_test not applied: %s (%v)", b, err)
	}
	rep, _ := os.ReadFile(filepath.Join(out, "report.md"))
	for _, want := range []string{"given checkpoint", "| hw | a | ar | 2 |", "| hw | d | mdlm | 2 |", "| hw | kmer | kmer | 2 |", "at most 24 rows", "at most 10 test rows",
		"up to 2 visible bases each side", "- d's NELBO"} {
		if !strings.Contains(string(rep), want) {
			t.Fatalf("report.md lacks %q:\n%s", want, rep)
		}
	}
	// An objective that is not the checkpoint's is refused before any work.
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(strings.Replace(body, "objective: ar", "objective: mdlm", 1)), 0o644)
	if _, _, err := run(t, "experiment", "--config", bad, "--out", filepath.Join(dir, "bad")); err == nil || !strings.Contains(err.Error(), `objective "mdlm"`) {
		t.Fatalf("wrong objective: %v", err)
	}
}

// A second study on a directory another one is running in is refused, and
// temporary files of a study killed mid-write are swept when it resumes.
func TestExperimentLockAndSweep(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "study.yaml")
	if err := os.WriteFile(cfg, []byte(strings.Replace(microStudy, "    builtin: human_or_worm\n", "    path: "+filepath.Join(dir, "absent.tsv")+"\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "s")
	run(t, "experiment", "--config", cfg, "--out", out) // stops at the tasks stage, after prep
	stale := filepath.Join(out, "prep", ".manifest.json.tmp-42")
	if err := os.WriteFile(stale, []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	unlock, err := train.Lock(out)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = run(t, "experiment", "--config", cfg, "--out", out)
	unlock()
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second study on a locked dir: %v", err)
	}
	if _, err := os.Stat(stale); err != nil {
		t.Fatal("the refused study touched the directory")
	}
	run(t, "experiment", "--config", cfg, "--out", out)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale temporary file not swept: %v", err)
	}
}
