package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFileReplacesWhole(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.txt")
	if err := WriteFile(p, []byte("old\n")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("new\n")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "new\n" {
		t.Fatalf("content %q", b)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("left beside it: %v", ents)
	}
}

func TestWriteFailureLeavesOldFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.txt")
	if err := WriteFile(p, []byte("old\n")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(p, func(f *os.File) error {
		f.Write([]byte("half"))
		return boom
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), p) {
		t.Fatalf("error %v: want boom naming %s", err, p)
	}
	if b, _ := os.ReadFile(p); string(b) != "old\n" {
		t.Fatalf("old file changed to %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("temporary file left: %v", ents)
	}
	if err := WriteFile(filepath.Join(dir, "no", "such", "x"), nil); err == nil || !strings.Contains(err.Error(), "no/such/x") {
		t.Fatalf("missing directory: %v", err)
	}
}

func TestSweep(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".a.json.tmp-123"), []byte("half"), 0o644)
	os.WriteFile(filepath.Join(dir, "keep.tmp-1"), nil, 0o644)
	os.Mkdir(filepath.Join(dir, ".checkpoint.tmp-9"), 0o755) // directories are their owners' business
	gone, err := Sweep(dir)
	if err != nil || len(gone) != 1 || filepath.Base(gone[0]) != ".a.json.tmp-123" {
		t.Fatalf("Sweep = %v, %v", gone, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Fatalf("left: %v", ents)
	}
}
