package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/evaluate"
	"github.com/seqdiff/seqdiff/train"
)

// TestTextEndToEnd runs the text path on the tiny corpora in
// testdata/text for both styles: prep, a few pretraining steps of mdlm and
// ar, eval ppl on test, sample (decoded text), and genppl of both sets of
// samples scored by the ar model.
func TestTextEndToEnd(t *testing.T) {
	for _, c := range []struct{ style, tok, bos, eos string }{
		{"lm1b", "bert-base-uncased", "[CLS]", "[SEP]"},
		{"owt", "gpt2", "<|endoftext|>", "<|endoftext|>"},
	} {
		t.Run(c.style, func(t *testing.T) {
			dir := t.TempDir()
			prep := filepath.Join(dir, "prep")
			if _, _, err := run(t, "prep", "--text", filepath.Join("testdata", "text", c.style+".txt"), "--style", c.style,
				"--tokenizer", c.tok, "--seq-len", "32", "--out", prep); err != nil {
				t.Fatal(err)
			}
			// Reverse complement (a DNA augmentation, on by default) is off for
			// text unless asked for, and asking is refused.
			if _, _, err := run(t, "pretrain", "--mode", "ar", "--data", prep, "--out", filepath.Join(dir, "rc"), "--rc",
				"--d-model", "16", "--n-layers", "1", "--n-heads", "2", "--max-steps", "1"); err == nil {
				t.Fatal("pretrain --rc on a text corpus: no error")
			}
			samples := map[string]string{}
			for _, mode := range []string{"mdlm", "ar"} {
				rd := filepath.Join(dir, mode)
				if _, _, err := run(t, "pretrain", "--mode", mode, "--data", prep, "--out", rd, "--d-model", "16", "--n-layers", "1",
					"--n-heads", "2", "--batch", "4", "--max-steps", "3", "--warmup", "1", "--lr", "3e-3",
					"--eval-every", "0", "--log-every", "0", "--threads", "1"); err != nil {
					t.Fatalf("pretrain %s: %v", mode, err)
				}
				if y, _ := os.ReadFile(filepath.Join(rd, "train.yaml")); !strings.Contains(string(y), "rc: false") {
					t.Fatalf("%s on text: train.yaml does not record rc: false:\n%s", mode, y)
				}
				cfg, err := os.ReadFile(filepath.Join(rd, "checkpoint", "config.json"))
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(cfg), `"tokenizer": "`+c.tok+`"`) {
					t.Fatalf("%s checkpoint config does not record tokenizer %s:\n%s", mode, c.tok, cfg)
				}
				out, _, err := run(t, "eval", "ppl", "--ckpt", rd, "--data", prep, "--split", "test", "--draws", "1", "--threads", "1", "--json")
				if err != nil {
					t.Fatalf("eval ppl %s: %v", mode, err)
				}
				var rep evaluate.Report
				if err := json.Unmarshal([]byte(out), &rep); err != nil {
					t.Fatal(err)
				}
				if rep.Bound != (mode == "mdlm") || !(rep.Perplexity > 1) || math.IsInf(rep.Perplexity, 0) || rep.Tokens == 0 {
					t.Fatalf("eval ppl %s: %+v", mode, rep)
				}
				file := filepath.Join(dir, mode+".txt")
				if mode == "ar" {
					file = filepath.Join(dir, mode+".jsonl")
				}
				if _, _, err := run(t, "sample", "--ckpt", rd, "--n", "3", "--len", "24", "--steps", "4", "--out", file, "--threads", "1"); err != nil {
					t.Fatalf("sample %s: %v", mode, err)
				}
				samples[mode] = file
				texts, err := dataprep.ReadTexts(file)
				if err != nil {
					t.Fatal(err)
				}
				if len(texts) != 3 {
					t.Fatalf("%s: %d samples, want 3", file, len(texts))
				}
				for _, s := range texts {
					if !strings.HasPrefix(s, c.bos) {
						t.Errorf("%s sample does not start with %s: %q", mode, c.bos, s)
					}
					if i := strings.Index(s[len(c.bos):], c.eos); i >= 0 && i+len(c.bos)+len(c.eos) != len(s) {
						t.Errorf("%s sample runs on past its first %s: %q", mode, c.eos, s)
					}
				}
			}
			ar := filepath.Join(dir, "ar")
			for mode, file := range samples {
				out, _, err := run(t, "eval", "genppl", "--samples", file, "--scorer", ar, "--threads", "1")
				if err != nil {
					t.Fatalf("genppl %s: %v", mode, err)
				}
				if !strings.Contains(out, "generative perplexity") || !strings.Contains(out, "seqdiff AR checkpoint") || !strings.Contains(out, "not GPT-2 large") {
					t.Errorf("genppl %s output:\n%s", mode, out)
				}
				out, _, err = run(t, "eval", "genppl", "--samples", file, "--scorer", ar, "--threads", "1", "--json")
				if err != nil {
					t.Fatal(err)
				}
				var g train.GenPPLReport
				if err := json.Unmarshal([]byte(out), &g); err != nil {
					t.Fatal(err)
				}
				if g.Texts != 3 || g.Tokens == 0 || !(g.Perplexity > 1) || math.IsInf(g.Perplexity, 0) || g.Tokenizer != c.tok {
					t.Errorf("genppl %s: %+v", mode, g)
				}
			}
			if _, _, err := run(t, "eval", "genppl", "--samples", samples["ar"], "--scorer", filepath.Join(dir, "mdlm"), "--threads", "1"); err == nil ||
				!strings.Contains(err.Error(), "must be an ar checkpoint") {
				t.Errorf("genppl with an mdlm scorer: %v", err)
			}
		})
	}
}

func TestReadSamplesErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte("{\"text\": \"ok\"}\n{\"txt\": 1}\n"), 0o644)
	if _, err := dataprep.ReadTexts(bad); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("jsonl without text: %v", err)
	}
	empty := filepath.Join(dir, "empty.txt")
	os.WriteFile(empty, []byte("\n  \n"), 0o644)
	if _, err := dataprep.ReadTexts(empty); err == nil || !strings.Contains(err.Error(), "no sample") {
		t.Errorf("empty samples: %v", err)
	}
}
