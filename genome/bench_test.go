package genome

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// sharedData returns ../shared/data relative to the module root, or skips.
func sharedData(t testing.TB, rel string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("module root not found")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "data", rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s: ../shared/data absent", rel)
	}
	return p
}

// BenchmarkReadChr20 streams GRCh37 chr20 (BGZF, 63 Mb) through Open/Next.
func BenchmarkReadChr20(b *testing.B) {
	p := sharedData(b, "genome/grch37_chr20.fa.gz")
	b.SetBytes(63025520)
	for b.Loop() {
		r, err := Open(p)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n += len(rec.Seq)
		}
		r.Close()
		if n != 63025520 {
			b.Fatalf("read %d bases", n)
		}
	}
}
