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

// noPrepOutput checks that neither out nor a temporary directory of prep
// beside it exists.
func noPrepOutput(t *testing.T, out string) {
	t.Helper()
	if _, err := os.Stat(out); err == nil {
		t.Errorf("%s exists after a failed prep", out)
	}
	ents, _ := os.ReadDir(filepath.Dir(out))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "."+filepath.Base(out)+".") {
			t.Errorf("leftover %s", e.Name())
		}
	}
}

func TestPrepEmbedded(t *testing.T) {
	out := filepath.Join(t.TempDir(), "prep")
	stdout, stderr, err := run(t, "prep", "--out", out, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Out    string
		Input  string
		SeqLen int `json:"seq_len"`
		Splits map[string]struct {
			Windows int64
			Tokens  int64
		}
	}
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("--json output %q: %v", stdout, err)
	}
	if sum.SeqLen != 1024 || sum.Input != "embedded:human_chr22_1mb.fa.gz" || stderr != "" {
		t.Errorf("summary %+v, stderr %q", sum, stderr)
	}
	d, err := dataprep.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	// 1 Mb at 15% N in 100 kb blocks: about 830 windows, every split some.
	total := int64(0)
	for _, s := range dataprep.SplitNames {
		si := d.Manifest.Splits[s]
		if si.Windows == 0 || sum.Splits[s].Windows != si.Windows {
			t.Errorf("%s: %d windows (json %d)", s, si.Windows, sum.Splits[s].Windows)
		}
		total += si.Windows
	}
	if total < 700 || total > 976 {
		t.Errorf("%d windows from 1 Mb", total)
	}

	// The existing output is refused, then replaced with --force.
	_, _, err = run(t, "prep", "--out", out, "--quiet")
	if err == nil || !strings.Contains(err.Error(), out) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("existing out: err %v", err)
	}
	_, stderr, err = run(t, "prep", "--out", out, "--force", "--seq-len", "512")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "train ") || !strings.Contains(stderr, "windows") {
		t.Errorf("summary line %q", stderr)
	}
	if d, err := dataprep.Open(out); err != nil || d.Manifest.SeqLen != 512 {
		t.Fatalf("after --force: %v", err)
	}
	ents, _ := os.ReadDir(filepath.Dir(out))
	if len(ents) != 1 {
		t.Errorf("beside out: %v", ents)
	}
}

func TestPrepBadInputs(t *testing.T) {
	dir := t.TempDir()
	fa := filepath.Join(dir, "small.fa")
	os.WriteFile(fa, []byte(">a\n"+strings.Repeat("ACGT", 10)+"\n>b\n"+strings.Repeat("GATC", 30)+"\n"), 0o644)
	bed := filepath.Join(dir, "splits.bed")
	os.WriteFile(bed, []byte("a\t0\t40\ttrain\nb\t0\t100\tholdout\n"), 0o644)
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	out := filepath.Join(dir, "out")
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--fasta", filepath.Join(dir, "missing.fa")}, filepath.Join(dir, "missing.fa")},
		{[]string{"--fasta", dir}, dir + " is a directory"},
		{[]string{"--fasta", fa, "--seq-len", "7"}, "--seq-len 7"},
		{[]string{"--fasta", fa, "--seq-len", "200"}, "longest is b, 120 bp"},
		{[]string{"--fasta", fa, "--seq-len", "8", "--split-bed", bed}, bed + ":2"},
		{[]string{"--fasta", fa, "--seq-len", "8", "--valid-chroms", "c"}, `"c"`},
	} {
		args := append([]string{"prep", "--out", out, "--quiet"}, c.args...)
		_, _, err := run(t, args...)
		if err == nil || !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), "prep") {
			t.Errorf("%v: err %v, want mention of %q", c.args, err, c.msg)
		}
		noPrepOutput(t, out)
	}
	// Unwritable --out: below a regular file.
	_, _, err := run(t, "prep", "--fasta", fa, "--seq-len", "8", "--out", filepath.Join(file, "out"))
	if err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("unwritable out: err %v", err)
	}
	if _, _, err := run(t, "prep", "--fasta", fa); err == nil || !strings.Contains(err.Error(), "out") {
		t.Errorf("no --out: err %v", err)
	}
}

// The embedded genome slice to token shards.
func Example_prep() {
	dir, _ := os.MkdirTemp("", "prep")
	defer os.RemoveAll(dir)
	root := newRootCmd()
	root.SetArgs([]string{"prep", "--out", filepath.Join(dir, "demo"), "--quiet"})
	if err := root.Execute(); err != nil {
		fmt.Println(err)
		return
	}
	d, _ := dataprep.Open(filepath.Join(dir, "demo"))
	fmt.Println(d.Manifest.Tokenizer, d.Manifest.SeqLen, d.Manifest.Params.SplitMode, d.Manifest.Input.Records[0].Name)
	// Output: dna-char 1024 blocks chr22
}
