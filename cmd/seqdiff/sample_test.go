package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSampleSamplers: every MDLM sampler writes --n rows of --len bases
// from a fresh checkpoint, with the prefix kept; --infill fills N and
// keeps the bases.
func TestSampleSamplers(t *testing.T) {
	dir := t.TempDir()
	ck := filepath.Join(dir, "ck")
	if _, _, err := run(t, "model", "init", "--preset", "dna-small", "--mode", "mdlm", "--d-model", "16", "--n-layers", "1", "--n-heads", "2",
		"--seq-len", "32", "--out", ck); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--sampler", "ddpm", "--steps", "8"},
		{"--sampler", "first_hitting"},
		{"--sampler", "first_hitting", "--tokens-per-step", "4"},
		{"--sampler", "topk_confidence", "--steps", "5", "--reveal", "cosine"},
	} {
		fa := filepath.Join(dir, args[1]+".fa")
		_, stderr, err := run(t, append([]string{"sample", "--ckpt", ck, "--n", "3", "--len", "20", "--prefix", "ACGTA", "--threads", "1", "-o", fa}, args...)...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		seqs := readSampleFASTA(t, fa)
		if len(seqs) != 3 {
			t.Fatalf("%v: %d samples", args, len(seqs))
		}
		for _, s := range seqs {
			if len(s) != 20 || !strings.HasPrefix(s, "ACGTA") || strings.Trim(s, "ACGTN") != "" {
				t.Errorf("%v: sample %q", args, s)
			}
		}
		calls := map[string]string{"ddpm": "", "first_hitting": "15 model calls", "topk_confidence": "5 model calls"}[args[1]]
		if len(args) == 4 && args[2] == "--tokens-per-step" {
			calls = "4 model calls" // ceil(15/4)
		}
		if calls != "" && !strings.Contains(stderr, calls) {
			t.Errorf("%v: %q, want %s", args, stderr, calls)
		}
	}
	in := filepath.Join(dir, "holes.fa")
	if err := os.WriteFile(in, []byte(">a\nACGTNNNNACGT\n>b\nnnnnACGTac\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "filled.fa")
	if _, _, err := run(t, "sample", "--ckpt", ck, "--infill", in, "--sampler", "first_hitting", "--threads", "1", "-o", out); err != nil {
		t.Fatal(err)
	}
	seqs := readSampleFASTA(t, out)
	if len(seqs) != 2 || len(seqs[0]) != 12 || seqs[0][:4] != "ACGT" || seqs[0][8:] != "ACGT" || len(seqs[1]) != 10 || seqs[1][4:] != "ACGTAC" ||
		strings.Trim(seqs[0]+seqs[1], "ACGTN") != "" {
		t.Errorf("infill: %q", seqs)
	}
	bad := filepath.Join(dir, "bad.fa")
	os.WriteFile(bad, []byte(">x\nACGT\n"), 0o644)
	if _, _, err := run(t, "sample", "--ckpt", ck, "--infill", bad, "-o", out); err == nil || !strings.Contains(err.Error(), `record "x": nothing to fill`) {
		t.Errorf("bad infill: %v", err)
	}
	if _, _, err := run(t, "sample", "--ckpt", ck, "--n", "1", "--sampler", "ddpm", "--tokens-per-step", "4", "-o", out); err == nil {
		t.Error("--tokens-per-step with ddpm accepted")
	}
}

// readSampleFASTA reads seqdiff's sample FASTA: the sequences in order.
func readSampleFASTA(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []string
	for _, line := range strings.Split(string(raw), "\n") {
		switch {
		case strings.HasPrefix(line, ">"):
			seqs = append(seqs, "")
		case line != "" && len(seqs) > 0:
			seqs[len(seqs)-1] += line
		}
	}
	return seqs
}
