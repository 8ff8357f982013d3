package genome

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/biogo/hts/bgzf"
	"github.com/seqdiff/seqdiff/internal/testenv"
)

// sharedData returns ../shared/data relative to the module root, or skips.
func sharedData(t testing.TB, rel string) string {
	t.Helper()
	dir := testenv.ModuleRoot(t)
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

// BenchmarkInflateChr20 compares ways of inflating chr20 in the same run:
// this package's parallel BGZF source (its own one-shot inflate), the
// biogo/hts bgzf reader with as many workers, and `gzip -dc` (one core).
func BenchmarkInflateChr20(b *testing.B) {
	p := sharedData(b, "genome/grch37_chr20.fa.gz")
	const size = 64075950 // uncompressed bytes
	workers := runtime.GOMAXPROCS(0)
	b.Run("seqdiff", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			f, err := os.Open(p)
			if err != nil {
				b.Fatal(err)
			}
			src := newBGZFSource(f, p, workers)
			n := 0
			for {
				c, err := src.next()
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				n += len(c)
			}
			src.close()
			if n != size {
				b.Fatalf("%d bytes", n)
			}
		}
	})
	b.Run("hts", func(b *testing.B) {
		b.SetBytes(size)
		buf := make([]byte, 1<<20)
		for b.Loop() {
			f, err := os.Open(p)
			if err != nil {
				b.Fatal(err)
			}
			r, err := bgzf.NewReader(bufio.NewReaderSize(f, 1<<20), workers)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for {
				m, err := r.Read(buf)
				n += m
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			r.Close()
			f.Close()
			if n != size {
				b.Fatalf("%d bytes", n)
			}
		}
	})
	b.Run("gzip-dc", func(b *testing.B) {
		gz, err := exec.LookPath("gzip")
		if err != nil {
			b.Skip("gzip not on PATH")
		}
		b.SetBytes(size)
		for b.Loop() {
			cmd := exec.Command(gz, "-dc", p)
			if err := cmd.Run(); err != nil { // stdout to /dev/null
				b.Fatal(err)
			}
		}
	})
}
