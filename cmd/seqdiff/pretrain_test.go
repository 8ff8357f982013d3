package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/evaluate"
	"github.com/seqdiff/seqdiff/train"
)

// tinyRun preps the embedded genome in rows of 64 and pre-trains a tiny
// model of mode for steps steps; it returns the prep and run directories.
func tinyRun(t *testing.T, mode string, steps int) (string, string) {
	t.Helper()
	dir := t.TempDir()
	prep, out := filepath.Join(dir, "prep"), filepath.Join(dir, "run-"+mode)
	if _, _, err := run(t, "prep", "--out", prep, "--seq-len", "64", "--quiet"); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := run(t, "pretrain", "--mode", mode, "--data", prep, "--out", out, "--d-model", "32", "--n-layers", "2",
		"--n-heads", "2", "--max-steps", fmt.Sprint(steps), "--eval-every", "10", "--eval-rows", "16", "--ckpt-every", "10",
		"--warmup", "5", "--lr", "3e-3", "--threads", "2", "--log-every", "10")
	if err != nil {
		t.Fatalf("pretrain %s: %v\n%s", mode, err, stderr)
	}
	if !strings.Contains(stderr, "done: reached max steps") || !strings.Contains(stderr, "valid") {
		t.Fatalf("pretrain %s progress:\n%s", mode, stderr)
	}
	return prep, out
}

func TestPretrainEvalSampleAR(t *testing.T) {
	prep, out := tinyRun(t, "ar", 20)
	for _, f := range []string{"train.yaml", "metrics.jsonl", "checkpoint/config.json", "checkpoint/model.safetensors",
		"checkpoint/ema.safetensors", "checkpoint/optimizer.safetensors", "checkpoint/state.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Fatalf("run dir: %v", err)
		}
	}
	data, _ := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	if n := strings.Count(string(data), "\n"); n != 20 {
		t.Fatalf("metrics.jsonl has %d lines, want 20", n)
	}
	// A resume may not change the model: refused before anything is touched.
	for _, args := range [][]string{{"--d-model", "64"}, {"--mode", "mdlm"}, {"--time-conditioning"}} {
		_, _, err := run(t, append([]string{"pretrain", "--out", out, "--resume", "--max-steps", "30"}, args...)...)
		if err == nil || !strings.Contains(err.Error(), "differs from") || !strings.Contains(err.Error(), "train.yaml") {
			t.Fatalf("resume with %v: %v", args, err)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(out, "metrics.jsonl")); string(after) != string(data) {
		t.Fatal("a refused resume changed metrics.jsonl")
	}
	rowsFile := filepath.Join(t.TempDir(), "rows.tsv")
	stdout, _, err := run(t, "eval", "ppl", "--ckpt", out, "--data", prep, "--split", "test", "--max-rows", "32", "--json", "--per-row", rowsFile)
	if err != nil {
		t.Fatal(err)
	}
	var rep evaluate.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Bound || !rep.EMA || rep.Tokens != 32*63 || !(rep.Perplexity > 2 && rep.Perplexity < 5) ||
		rep.BitsPerToken <= 0 || rep.Rows != 32 || rep.ByT != nil {
		t.Fatalf("eval ppl ar: %+v", rep)
	}
	checkPerRow(t, rowsFile, rep, 63)
	// Resume to a later stop continues at step 20.
	_, stderr, err := run(t, "pretrain", "--out", out, "--resume", "--max-steps", "25", "--log-every", "0")
	if err != nil || !strings.Contains(stderr, "from step 20") || !strings.Contains(stderr, "at step 25") {
		t.Fatalf("resume: %v\n%s", err, stderr)
	}
	// A second writer on a run dir in use is refused.
	unlock, err := train.Lock(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, "pretrain", "--out", out, "--resume", "--max-steps", "30"); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("locked run dir: %v", err)
	}
	unlock()
	fa := filepath.Join(t.TempDir(), "ar.fa")
	if _, _, err := run(t, "sample", "--ckpt", out, "--n", "3", "--len", "50", "--prefix", "ACGT", "--top-k", "3", "--seed", "1", "--out", fa); err != nil {
		t.Fatal(err)
	}
	checkFASTA(t, fa, 3, 50, "ACGT")
	if _, _, err := run(t, "sample", "--ckpt", out, "--n", "1", "--len", "50", "--suffix", "AC", "--out", fa); err == nil {
		t.Fatal("ar sampling with a suffix was accepted")
	}
}

func TestPretrainEvalSampleMDLM(t *testing.T) {
	prep, out := tinyRun(t, "mdlm", 20)
	rowsFile := filepath.Join(t.TempDir(), "rows.tsv")
	stdout, _, err := run(t, "eval", "ppl", "--ckpt", out, "--data", prep, "--max-rows", "16", "--draws", "2", "--seed", "5", "--json", "--per-row", rowsFile)
	if err != nil {
		t.Fatal(err)
	}
	var rep evaluate.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Bound || rep.Draws != 2 || rep.Seed != 5 || rep.Tokens != 16*64 || !(rep.Perplexity > 2 && rep.Perplexity < 8) {
		t.Fatalf("eval ppl mdlm: %+v", rep)
	}
	checkByT(t, rep)
	checkPerRow(t, rowsFile, rep, 64)
	text, _, err := run(t, "eval", "ppl", "--ckpt", out, "--data", prep, "--max-rows", "16", "--samples", "2")
	if err != nil || !strings.Contains(text, "upper bound") || !strings.Contains(text, "NELBO by t") || !strings.Contains(text, "[0.9, 1.0]") {
		t.Fatalf("eval ppl text: %v %q", err, text)
	}
	// MDLM's floor under the same draws: the same rows and tokens.
	fout, _, err := run(t, "eval", "kmer", "--data", prep, "--bidirectional", "3", "--max-rows", "16", "--draws", "2", "--seed", "5", "--json", "--per-row", rowsFile)
	if err != nil {
		t.Fatal(err)
	}
	var fl evaluate.Report
	if err := json.Unmarshal([]byte(fout), &fl); err != nil {
		t.Fatal(err)
	}
	if fl.Mode != evaluate.KmerBidirMode || fl.KmerOrder != 3 || !fl.Bound || fl.Draws != 2 || fl.Seed != 5 || fl.Tokens != rep.Tokens || fl.Rows != rep.Rows ||
		!(fl.NLLPerToken > 0.9 && fl.NLLPerToken < 1.4) {
		t.Fatalf("eval kmer --bidirectional: %+v", fl)
	}
	checkByT(t, fl)
	checkPerRow(t, rowsFile, fl, 64)
	if text, _, err := run(t, "eval", "kmer", "--data", prep, "--bidirectional", "2", "--max-rows", "4"); err != nil ||
		!strings.Contains(text, "up to 2 visible bases each side") || !strings.Contains(text, "NELBO by t") {
		t.Fatalf("eval kmer --bidirectional text: %v %q", err, text)
	}
	fa := filepath.Join(t.TempDir(), "m.fa")
	if _, _, err := run(t, "sample", "--ckpt", out, "--n", "2", "--len", "64", "--steps", "16", "--prefix", "ACGTAC", "--suffix", "GGTT", "--out", fa); err != nil {
		t.Fatal(err)
	}
	checkFASTA(t, fa, 2, 64, "ACGTAC")
	// Past the context length: semi-autoregressive.
	if _, _, err := run(t, "sample", "--ckpt", out, "--n", "1", "--len", "150", "--steps", "8", "--sampler", "ddpm", "--out", fa); err != nil {
		t.Fatal(err)
	}
	checkFASTA(t, fa, 1, 150, "")
	kout, _, err := run(t, "eval", "kmer", "--data", prep, "--k", "0,2,4", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var kr evaluate.KmerPPL
	if err := json.Unmarshal([]byte(kout), &kr); err != nil || len(kr.Orders) != 3 || !kr.Tuned || kr.Orders[0].Perplexity < kr.Orders[2].Perplexity-1e-9 && kr.BestK == 0 {
		t.Fatalf("eval kmer: %v %+v", err, kr)
	}
	if kr.Orders[0].Perplexity > 4.01 || kr.Orders[0].Perplexity < 3 {
		t.Fatalf("unigram perplexity %v outside (3, 4]", kr.Orders[0].Perplexity)
	}
	bout, _, err := run(t, "bench", "sample", "--mdlm", out, "--len", "64", "--n", "2", "--steps", "128", "--json", "--d-model", "32", "--n-layers", "1", "--n-heads", "2", "--seq-len", "64")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(bout), "\n")
	if len(lines) != 5 { // ddpm, ddpm_cache, topk_confidence, first_hitting, ar
		t.Fatalf("bench sample printed %d lines", len(lines))
	}
	var rows []train.SampleTiming
	for _, l := range lines {
		var r train.SampleTiming
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	// 128 steps over 2 x 64 positions: ddpm calls the model every step up
	// to the last reveal (127.4 expected); the
	// cache skips the steps where no position of either row changed, which
	// with 128 steps for 64 positions per row happens; topk_confidence
	// (at least one position a call) and first_hitting call it once per
	// position; AR steps len-1 times.
	if rows[0].Calls > 128 || rows[0].Calls < 120 || rows[1].Calls >= rows[0].Calls || rows[1].Calls < 1 || rows[2].Calls != 64 || rows[3].Calls != 64 || rows[4].Calls != 63 {
		t.Fatalf("bench sample calls: %+v", rows)
	}
}

func TestPretrainFlagErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("mode: ar\nbogus: 1\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"pretrain", "--config", cfg}, "bogus"},
		{[]string{"pretrain", "--data", dir, "--out", dir}, "no stopping rule"},
		{[]string{"pretrain", "--data", dir, "--out", dir, "--max-steps", "3", "--mode", "gpt"}, "mode"},
		{[]string{"pretrain", "--data", dir, "--out", dir, "--max-steps", "3", "--time-budget", "soon"}, "time budget"},
		{[]string{"pretrain", "--out", dir, "--resume"}, "has no train.yaml, so no run to continue: start it again without --resume"},
		{[]string{"pretrain", "--data", dir, "--out", dir, "--max-steps", "3", "--accum", "0"}, "accum 0: must be >= 1"},
		{[]string{"pretrain", "--data", dir, "--out", dir, "--max-steps", "3", "--t-sampling", "antithetic"}, "want stratified, systematic, iid"},
		{[]string{"finetune", "--task", "human_or_worm", "--from", dir, "--out", dir, "--accum", "2"}, "as do --accum and --t-sampling"},
	} {
		if _, _, err := run(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one mentioning %q", c.args, err, c.want)
		}
	}
}

// checkByT: a bound's bins of t hold its tokens, and their token-weighted
// mean per token is its nats per token.
func checkByT(t *testing.T, rep evaluate.Report) {
	t.Helper()
	var tok, nats float64
	for _, b := range rep.ByT {
		tok += b.Tokens
		nats += b.Tokens * b.NLLPerToken
	}
	if len(rep.ByT) != evaluate.TBins || math.Abs(tok-float64(rep.Tokens)) > 1e-9*tok || math.Abs(nats/tok-rep.NLLPerToken) > 1e-12 {
		t.Fatalf("by_t %+v does not add up to %d tokens at %v nats/token", rep.ByT, rep.Tokens, rep.NLLPerToken)
	}
}

// checkPerRow: the --per-row TSV has a header and one line per scored row
// of tokens each, numbered from 0, adding up to the report.
func checkPerRow(t *testing.T, path string, rep evaluate.Report, tokens int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if lines[0] != "row\ttokens\tnll\tnll_per_token" || len(lines) != rep.Rows+1 {
		t.Fatalf("%s: header %q, %d lines for %d rows", path, lines[0], len(lines), rep.Rows)
	}
	var nats float64
	for i, l := range lines[1:] {
		var row int
		var tok int64
		var nll, per float64
		if _, err := fmt.Sscanf(l, "%d\t%d\t%g\t%g", &row, &tok, &nll, &per); err != nil || row != i || tok != tokens || math.Abs(per-nll/float64(tok)) > 1e-12 {
			t.Fatalf("%s line %d: %q (%v)", path, i+2, l, err)
		}
		nats += nll
	}
	if want := rep.NLLPerToken * float64(rep.Tokens); math.Abs(nats-want) > 1e-9*want {
		t.Fatalf("%s: rows add up to %.9f nats, the report to %.9f", path, nats, want)
	}
}

// TestPretrainAccumTSampling: --accum and --t-sampling reach the run's
// train.yaml and banner; a step counts its accum x batch rows; --resume
// keeps them, and refuses other times than the run's.
func TestPretrainAccumTSampling(t *testing.T) {
	dir := t.TempDir()
	prep, out := filepath.Join(dir, "prep"), filepath.Join(dir, "run")
	if _, _, err := run(t, "prep", "--out", prep, "--seq-len", "64", "--quiet"); err != nil {
		t.Fatal(err)
	}
	args := func(steps string, extra ...string) []string {
		return append([]string{"pretrain", "--mode", "mdlm", "--data", prep, "--out", out, "--d-model", "16", "--n-layers", "1",
			"--n-heads", "2", "--batch", "2", "--max-steps", steps, "--eval-every", "0", "--threads", "1", "--log-every", "0"}, extra...)
	}
	_, stderr, err := run(t, args("3", "--accum", "3", "--t-sampling", "systematic")...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "batch 2 x 64 x accum 3 (6 rows per step)") {
		t.Fatalf("banner:\n%s", stderr)
	}
	y, _ := os.ReadFile(filepath.Join(out, train.ConfigYAML))
	if !strings.Contains(string(y), "accum: 3\n") || !strings.Contains(string(y), "t_sampling: systematic\n") {
		t.Fatalf("train.yaml:\n%s", y)
	}
	if _, stderr, err := run(t, "pretrain", "--out", out, "--resume", "--max-steps", "4", "--t-sampling", "stratified"); err == nil || !strings.Contains(err.Error(), "t_sampling systematic") {
		t.Fatalf("resume with other times: %v\n%s", err, stderr)
	}
	if _, stderr, err := run(t, "pretrain", "--out", out, "--resume", "--max-steps", "4"); err != nil {
		t.Fatalf("resume: %v\n%s", err, stderr)
	}
	data, _ := os.ReadFile(filepath.Join(out, train.MetricsFile))
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var last train.Metric
	json.Unmarshal([]byte(lines[len(lines)-1]), &last)
	if len(lines) != 4 || last.Step != 4 || last.Tokens != 4*6*64 {
		t.Fatalf("%d metrics lines, the last %+v; want 4, step 4 at %d tokens", len(lines), last, 4*6*64)
	}
}

func checkFASTA(t *testing.T, path string, n, L int, prefix string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs := strings.Split(strings.TrimPrefix(string(data), ">"), "\n>")
	if len(recs) != n {
		t.Fatalf("%s: %d records, want %d", path, len(recs), n)
	}
	for _, r := range recs {
		lines := strings.Split(strings.TrimSpace(r), "\n")
		seq := strings.Join(lines[1:], "")
		if len(seq) != L || !strings.HasPrefix(seq, prefix) || strings.Trim(seq, "ACGTN") != "" {
			t.Fatalf("%s: record %q", path, r)
		}
	}
}
