package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/dataprep"
)

func TestTokenize(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--tokenizer", "gpt2", "Hello world, the quick brown fox."}, "15496 995 11 262 2068 7586 21831 13\n"},
		{[]string{"--tokenizer", "bert-base-uncased", "--add-special", "Hello, world!"}, "101 7592 1010 2088 999 102\n"},
		{[]string{"--tokenizer", "bert-base-uncased", "Café Naïve"}, "7668 15743\n"},
		{[]string{"--tokenizer", "dna", "ACGTN"}, "7 8 9 10 11\n"},
		{[]string{"--tokenizer", "gpt2", "--add-special", "Hi"}, "50256 17250 50256\n"},
		{[]string{"--tokenizer", "bert-base-uncased", "--decode", "101 7592 1010 2088 999 102"}, "[CLS] hello , world ! [SEP]\n"},
		{[]string{"--tokenizer", "bert-base-uncased", "--decode", "[14477, 20961, 3468]"}, "unaffable\n"},
		{[]string{"--tokenizer", "gpt2", "--decode", "15496,995,50256"}, "Hello world<|endoftext|>\n"},
		{[]string{"--tokenizer", "dna", "--decode", "0 7 8 9 10 1"}, "[CLS]ACGT[SEP]\n"},
	} {
		out, _, err := run(t, append([]string{"tokenize"}, c.args...)...)
		if err != nil || out != c.want {
			t.Errorf("%v: %q, %v; want %q", c.args, out, err, c.want)
		}
	}
}

func TestTokenizeStdin(t *testing.T) {
	root := newRootCmd()
	var out strings.Builder
	root.SetOut(&out)
	root.SetIn(strings.NewReader("acgt\n"))
	root.SetArgs([]string{"tokenize", "--tokenizer", "dna", "-"})
	if err := root.Execute(); err != nil || out.String() != "7 8 9 10\n" {
		t.Errorf("stdin: %q, %v", out.String(), err)
	}
	// Only the final newline is dropped: GPT-2 keeps the inner one (198).
	root = newRootCmd()
	out.Reset()
	root.SetOut(&out)
	root.SetIn(strings.NewReader("Hello\nworld\n"))
	root.SetArgs([]string{"tokenize", "--tokenizer", "gpt2", "-"})
	if err := root.Execute(); err != nil || out.String() != "15496 198 6894\n" {
		t.Errorf("gpt2 stdin: %q, %v", out.String(), err)
	}
}

func TestTokenizeBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--tokenizer", "gpt3", "x"}, `"gpt3" for "--tokenizer"`},
		{[]string{"--tokenizer", "dna", "ACGU"}, "byte 3"},
		{[]string{"--tokenizer", "gpt2", "ok\xff"}, "byte 2: invalid UTF-8"},
		{[]string{"--tokenizer", "gpt2", "--decode", "1 x 3"}, `id 2: "x" is not an integer`},
		{[]string{"--tokenizer", "bert-base-uncased", "--decode", "30522"}, "outside the vocabulary"},
		{[]string{"x"}, "tokenizer"},
	} {
		_, _, err := run(t, append([]string{"tokenize"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%v: err %v, want %q", c.args, err, c.msg)
		}
	}
}

func TestPrepText(t *testing.T) {
	dir := t.TempDir()
	docs := filepath.Join(dir, "docs")
	os.Mkdir(docs, 0o755)
	for i := range 12 {
		os.WriteFile(filepath.Join(docs, fmt.Sprintf("d%02d.txt", i)), []byte(strings.Repeat(fmt.Sprintf("Document %d says hello to the world. ", i), 20)), 0o644)
	}
	out := filepath.Join(dir, "owt")
	stdout, _, err := run(t, "prep", "--text", docs, "--style", "owt", "--seq-len", "64", "--out", out, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Tokenizer string
		SeqLen    int `json:"seq_len"`
		Text      struct{ Documents int64 }
		Splits    map[string]struct{ Windows int64 }
	}
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("--json %q: %v", stdout, err)
	}
	d, err := dataprep.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	m := d.Manifest
	if sum.Tokenizer != "gpt2" || sum.SeqLen != 64 || sum.Text.Documents != 12 || m.ElementType != "uint16" || m.Text.Style != "owt" {
		t.Errorf("summary %+v, manifest %+v", sum, m)
	}
	if sum.Splits["train"].Windows == 0 || sum.Splits["train"].Windows != m.Splits["train"].Windows {
		t.Errorf("train rows %d / %d", sum.Splits["train"].Windows, m.Splits["train"].Windows)
	}

	lines := filepath.Join(dir, "s.txt")
	os.WriteFile(lines, []byte("Hello , world !\n\nAnother sentence .\n"), 0o644)
	_, stderr, err := run(t, "prep", "--text", lines, "--out", filepath.Join(dir, "lm1b"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "bert-base-uncased, lm1b") || !strings.Contains(stderr, "2 documents (1 empty skipped)") {
		t.Errorf("summary line %q", stderr)
	}
	if d, err := dataprep.Open(filepath.Join(dir, "lm1b")); err != nil || d.Manifest.SeqLen != 128 {
		t.Errorf("lm1b default seq-len: %v", err)
	}
}

func TestPrepTextBadFlags(t *testing.T) {
	dir := t.TempDir()
	lines := filepath.Join(dir, "s.txt")
	os.WriteFile(lines, []byte("Hello .\n"), 0o644)
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("fine .\nnot \xc3\x28 fine\n"), 0o644)
	out := filepath.Join(dir, "out")
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--text", lines, "--max-n", "0.1"}, "--max-n is for FASTA input"},
		{[]string{"--text", lines, "--fasta", "x.fa"}, "--fasta is for FASTA input"},
		{[]string{"--tokenizer", "gpt2"}, "--tokenizer is for text corpora"},
		{[]string{"--text", lines, "--tokenizer", "dna"}, `"dna" for "--tokenizer"`},
		{[]string{"--text", bad}, "bad.txt:2: byte 4 of the line: invalid UTF-8"},
	} {
		_, _, err := run(t, append([]string{"prep", "--out", out, "--quiet"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%v: err %v, want %q", c.args, err, c.msg)
		}
		noPrepOutput(t, out)
	}
}

// Token ids of a sentence, and the text of ids.
func Example_tokenize() {
	for _, args := range [][]string{
		{"tokenize", "--tokenizer", "bert-base-uncased", "--add-special", "Hello, world!"},
		{"tokenize", "--tokenizer", "gpt2", "Hello world, the quick brown fox."},
		{"tokenize", "--tokenizer", "gpt2", "--decode", "15496 995 11 262 2068 7586 21831 13"},
	} {
		root := newRootCmd()
		root.SetArgs(args)
		if err := root.Execute(); err != nil {
			fmt.Println(err)
		}
	}
	// Output:
	// 101 7592 1010 2088 999 102
	// 15496 995 11 262 2068 7586 21831 13
	// Hello world, the quick brown fox.
}
