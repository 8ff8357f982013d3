package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/biogo/hts/bgzf"

	"github.com/seqdiff/seqdiff/genome"
)

const indexFASTA = ">chr1 first\nACGTACGTAC\nGTAC\n>chr2\nNNNNacgtRY\nA\n"

func TestIndexPlain(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "g.fa")
	os.WriteFile(p, []byte(indexFASTA), 0o644)
	out, _, err := run(t, "index", p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "2 records, 25 bases") {
		t.Fatalf("output %q", out)
	}
	got, _ := os.ReadFile(p + ".fai")
	want := "chr1\t14\t12\t10\t11\nchr2\t11\t34\t10\t11\n"
	if string(got) != want {
		t.Fatalf(".fai = %q, want %q", got, want)
	}
	if sam, err := exec.LookPath("samtools"); err == nil {
		q := filepath.Join(dir, "s.fa")
		os.WriteFile(q, []byte(indexFASTA), 0o644)
		if out, err := exec.Command(sam, "faidx", q).CombinedOutput(); err != nil {
			t.Fatalf("samtools: %v %s", err, out)
		}
		if s, _ := os.ReadFile(q + ".fai"); !bytes.Equal(s, got) {
			t.Fatalf("samtools wrote %q", s)
		}
	}
}

func TestIndexBGZF(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "g.fa.gz")
	var b bytes.Buffer
	w := bgzf.NewWriter(&b, 1)
	w.Write([]byte(indexFASTA))
	w.Close()
	os.WriteFile(p, b.Bytes(), 0o644)
	out, _, err := run(t, "index", p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "(BGZF)") || !strings.Contains(out, "wrote "+p+".gzi") {
		t.Fatalf("output %q", out)
	}
	x, err := genome.OpenIndexed(p)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if s, err := x.Fetch("chr2", 2, 11); err != nil || string(s) != "NNACGTNNA" {
		t.Fatalf("Fetch = %q, %v", s, err)
	}
	// A second run finds the .gzi in place.
	out, _, err = run(t, "index", p)
	if err != nil || !strings.Contains(out, ".gzi present and matching") {
		t.Fatalf("second run: %q, %v", out, err)
	}
}

func TestIndexErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	bad := write("bad.fa", ">a\nACGT\nAC*T\n")
	_, _, err := run(t, "index", bad)
	if !errors.Is(err, genome.ErrBadByte) || !strings.Contains(err.Error(), bad+":3: record a:") {
		t.Fatalf("bad byte: %v", err)
	}
	if _, statErr := os.Stat(bad + ".fai"); !os.IsNotExist(statErr) {
		t.Fatal("a failed index left a .fai behind")
	}
	ragged := write("ragged.fa", ">a\nACGT\nACGTA\n")
	if _, _, err := run(t, "index", ragged); !errors.Is(err, genome.ErrNotIndexable) {
		t.Fatalf("ragged lines: %v", err)
	}
	var gz bytes.Buffer
	zw := newGzip(&gz)
	zw.Write([]byte(indexFASTA))
	zw.Close()
	plainGz := write("plain.fa.gz", gz.String())
	if _, _, err := run(t, "index", plainGz); !errors.Is(err, genome.ErrNotBGZF) || !strings.Contains(err.Error(), "bgzip") {
		t.Fatalf("gzip: %v", err)
	}
	if _, _, err := run(t, "index", filepath.Join(dir, "nope.fa")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
	if _, _, err := run(t, "index", dir); !errors.Is(err, genome.ErrNotRegularFile) {
		t.Fatalf("directory: %v", err)
	}
	if _, _, err := run(t, "index"); err == nil {
		t.Fatal("no argument accepted")
	}
}

func newGzip(w *bytes.Buffer) *gzip.Writer { return gzip.NewWriter(w) }
