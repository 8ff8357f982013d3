package assets

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Each embedded file is a gzip (BGZF is gzip) FASTA with the record and size
// README.md promises.
func TestEmbeddedFiles(t *testing.T) {
	for _, c := range []struct {
		name, header string
		bases        int
	}{
		{Human, ">chr22 ", 1000001},
		{Worm, ">chrX ", 1000000},
		{Mito, ">MT_human", 16569},
	} {
		b, err := Bytes(c.name)
		if err != nil {
			t.Fatal(err)
		}
		z, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		raw, err := io.ReadAll(z)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !bytes.HasPrefix(raw, []byte(c.header)) {
			t.Errorf("%s: header %q, want prefix %q", c.name, raw[:min(len(raw), 40)], c.header)
		}
		first := bytes.IndexByte(raw, '\n')
		n := 0
		for _, line := range bytes.Split(raw[first+1:], []byte("\n")) {
			n += len(line)
		}
		if n != c.bases {
			t.Errorf("%s: %d bases, want %d", c.name, n, c.bases)
		}
	}
}

func TestWriteTemp(t *testing.T) {
	dir := t.TempDir()
	p, err := WriteTemp(dir, Mito)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Bytes(Mito)
	if !bytes.Equal(got, want) {
		t.Fatal("temp copy differs from the embedded file")
	}
	if _, err := WriteTemp(dir, "nope.fa"); err == nil {
		t.Fatal("unknown asset name gave no error")
	}
}

func TestPathIsCachedAndReused(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	p1, remove, err := Path(Human)
	if err != nil {
		t.Fatal(err)
	}
	if remove {
		t.Fatalf("Path(%s) under a usable cache folder asks the caller to remove %s", Human, p1)
	}
	got, err := os.ReadFile(p1)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Bytes(Human)
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the embedded %s", p1, Human)
	}
	// A stale half-written copy from a killed run is swept; the final copy is reused.
	stale := filepath.Join(filepath.Dir(p1), "seqdiff-123-"+Human)
	if err := os.WriteFile(stale, want[:10], 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	os.Chtimes(stale, old, old)
	os.Remove(p1)
	p2, _, err := Path(Human)
	if err != nil || p2 != p1 {
		t.Fatalf("second Path = %q, %v; want %q", p2, err, p1)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale temp copy %s was not swept (%v)", stale, err)
	}
}
