package genome

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"hash/crc32"
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

// quickBGZF stores data as BGZF blocks of block bytes each without
// compression (deflate stored blocks), plus the EOF marker: a cheap
// writer for the fuzz target, independent of the hts one.
func quickBGZF(data []byte, block int) []byte {
	var out []byte
	for p := 0; p < len(data); p += block {
		chunk := data[p:min(p+block, len(data))]
		// one final stored deflate block: 0x01, LEN, ^LEN, the bytes
		z := []byte{1, byte(len(chunk)), byte(len(chunk) >> 8), ^byte(len(chunk)), ^byte(len(chunk) >> 8)}
		z = append(z, chunk...)
		h := []byte{0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 6, 0, 'B', 'C', 2, 0, 0, 0}
		binary.LittleEndian.PutUint16(h[16:], uint16(len(h)+len(z)+8-1))
		out = append(out, h...)
		out = append(out, z...)
		out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(chunk))
		out = binary.LittleEndian.AppendUint32(out, uint32(len(chunk)))
	}
	return append(out, bgzfEOF...)
}
