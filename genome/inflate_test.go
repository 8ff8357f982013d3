package genome

import (
	"bytes"
	"compress/flate"
	"io"
	"math/rand/v2"
	"testing"
)

func deflateBytes(t testing.TB, data []byte, level int) []byte {
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, level)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// inflateSamples are data of the kinds BGZF blocks hold, and edge cases.
func inflateSamples() [][]byte {
	rng := rand.New(rand.NewPCG(3, 4))
	random := make([]byte, 60000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	dna := bigFASTA(70000)[:65536]
	runs := bytes.Repeat([]byte("N"), 65536)
	mixed := append(bytes.Repeat([]byte("ACGTTGCA"), 3000), random[:20000]...)
	return [][]byte{nil, []byte("a"), []byte(">chr1\nACGT\n"), dna, runs, mixed, random}
}

func TestInflate(t *testing.T) {
	var d decoder
	for i, data := range inflateSamples() {
		for _, level := range []int{flate.NoCompression, flate.BestSpeed, flate.DefaultCompression, flate.BestCompression, flate.HuffmanOnly} {
			z := deflateBytes(t, data, level)
			out := make([]byte, len(data))
			if err := d.inflate(out, z); err != nil {
				t.Fatalf("sample %d level %d: %v", i, level, err)
			}
			if !bytes.Equal(out, data) {
				t.Fatalf("sample %d level %d: output differs", i, level)
			}
			// The wrong size is an error, never a short or long success.
			if err := d.inflate(make([]byte, len(data)+1), z); err == nil {
				t.Fatalf("sample %d level %d: a larger buffer was filled", i, level)
			}
			if len(data) > 0 {
				if err := d.inflate(make([]byte, len(data)-1), z); err == nil {
					t.Fatalf("sample %d level %d: a smaller buffer was filled", i, level)
				}
			}
			// Cut streams fail.
			for _, cut := range []int{1, len(z) / 2, len(z) - 1} {
				if cut <= 0 || cut >= len(z) {
					continue
				}
				if err := d.inflate(make([]byte, len(data)), z[:cut]); err == nil {
					t.Fatalf("sample %d level %d: stream cut at %d decoded", i, level, cut)
				}
			}
		}
	}
}

// FuzzInflate checks the one-shot decoder against compress/flate.
func FuzzInflate(f *testing.F) {
	for _, data := range inflateSamples() {
		if len(data) < 2000 {
			f.Add(deflateBytes(f, data, flate.DefaultCompression))
		}
	}
	f.Add(deflateBytes(f, bigFASTA(1000), flate.BestSpeed))
	f.Add(deflateBytes(f, bytes.Repeat([]byte("AC"), 500), flate.HuffmanOnly))
	f.Fuzz(func(t *testing.T, z []byte) {
		want, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(z)), 1<<16+1))
		var d decoder
		if err != nil || len(want) > 1<<16 {
			// compress/flate fails (or the data exceeds a BGZF block):
			// so must we, for any output size.
			for _, n := range []int{0, len(want), 1 << 16} {
				if d.inflate(make([]byte, n), z) == nil {
					t.Fatalf("decoded %d bytes where compress/flate fails (%v)", n, err)
				}
			}
			return
		}
		got := make([]byte, len(want))
		if err := d.inflate(got, z); err != nil {
			t.Fatalf("%v where compress/flate decodes %d bytes", err, len(want))
		}
		if !bytes.Equal(got, want) {
			t.Fatal("output differs from compress/flate")
		}
	})
}
