package npy

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/internal/testenv"
)

// TestHeaderAsNumpy: the preamble is numpy.save's, byte for byte (taken
// from numpy 1.24: np.save(f, np.zeros(shape, '<f4'))).
func TestHeaderAsNumpy(t *testing.T) {
	spaces := func(n int) string { return strings.Repeat(" ", n) }
	for _, c := range []struct {
		shape []int
		want  string
	}{
		{[]int{2, 3}, "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" + spaces(58) + "\n"},
		{[]int{5}, "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }" + spaces(60) + "\n"},
		{[]int{2, 3, 4}, "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }" + spaces(55) + "\n"},
		{nil, "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (), }" + spaces(62) + "\n"},
	} {
		h, err := Header(c.shape)
		if err != nil {
			t.Fatal(err)
		}
		if string(h) != c.want {
			t.Errorf("shape %v:\n got %q\nwant %q", c.shape, h, c.want)
		}
	}
	// Every header ends at a multiple of 64 with "\n", its length field right.
	for _, shape := range [][]int{{1}, {123456789012, 7}, {3, 1 << 40, 9}, {0, 16}, {7, 100, 64}} {
		h, err := Header(shape)
		if err != nil {
			t.Fatal(err)
		}
		if len(h)%64 != 0 || h[len(h)-1] != '\n' || int(binary.LittleEndian.Uint16(h[8:10])) != len(h)-10 {
			t.Errorf("shape %v: %d bytes, %q", shape, len(h), h)
		}
	}
	if _, err := Header([]int{2, -1}); err == nil {
		t.Error("negative dimension accepted")
	}
}

func TestWrite(t *testing.T) {
	data := []float32{0, 1.5, -2, float32(math.Inf(1)), 3e-38, 7}
	var b bytes.Buffer
	if err := Write(&b, []int{3, 2}, data); err != nil {
		t.Fatal(err)
	}
	raw := b.Bytes()
	if len(raw) != 128+4*len(data) {
		t.Fatalf("%d bytes", len(raw))
	}
	for i, v := range data {
		if got := math.Float32frombits(binary.LittleEndian.Uint32(raw[128+4*i:])); got != v {
			t.Errorf("value %d: %v, want %v", i, got, v)
		}
	}
	if err := Write(&b, []int{4, 2}, data); err == nil || !strings.Contains(err.Error(), "shape [4 2] holds 8 values, have 6") {
		t.Errorf("size mismatch: %v", err)
	}
	// WriteFile refuses a mismatch and leaves nothing behind.
	dir := t.TempDir()
	if err := WriteFile(filepath.Join(dir, "x.npy"), []int{5}, data); err == nil {
		t.Error("WriteFile: size mismatch accepted")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}

// TestNumpyLoads reads a written file with numpy.load when the system
// Python has numpy.
func TestNumpyLoads(t *testing.T) {
	py := testenv.Python(t, "numpy")
	p := filepath.Join(t.TempDir(), "a.npy")
	data := make([]float32, 2*3*4)
	for i := range data {
		data[i] = float32(i) / 4
	}
	if err := WriteFile(p, []int{2, 3, 4}, data); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", `import sys, numpy as np
a = np.load(sys.argv[1])
assert a.dtype == np.dtype('<f4') and a.flags.c_contiguous, (a.dtype, a.flags)
assert a.shape == (2, 3, 4), a.shape
assert (a == np.arange(24, dtype='<f4').reshape(2, 3, 4) / 4).all(), a
print(a.shape)`, p).CombinedOutput()
	if err != nil {
		t.Fatalf("numpy.load: %v\n%s", err, out)
	}
}
