package genome

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/biogo/hts/bgzf"
)

var allCompressions = []Compression{Plain, Gzip, BGZF}

// compress returns data stored as c. For BGZF, block > 0 cuts the data
// into blocks of that many bytes, so that records and lines straddle
// block (and so chunk) boundaries.
func compress(t testing.TB, data []byte, c Compression, block int) []byte {
	t.Helper()
	var b bytes.Buffer
	switch c {
	case Plain:
		return append([]byte(nil), data...)
	case Gzip:
		w := gzip.NewWriter(&b)
		w.Write(data)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case BGZF:
		w := bgzf.NewWriter(&b, 1)
		if block <= 0 {
			block = len(data) + 1
		}
		for p := 0; p < len(data); p += block {
			if _, err := w.Write(data[p:min(p+block, len(data))]); err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// writeFile writes data to dir/name and returns the path.
func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// readAll streams every record of path.
func readAll(path string) ([]Record, error) {
	r, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []Record
	for {
		rec, err := r.Next()
		if err != nil {
			if err == io.EOF {
				return out, nil
			}
			return out, err
		}
		out = append(out, rec)
	}
}
