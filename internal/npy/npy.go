// Package npy writes NumPy .npy files: format version 1.0, float32
// little-endian ('<f4'), C order, as numpy.save writes them and numpy.load
// reads them (the format is numpy.lib.format's NEP 1).
//
// A file is the magic "\x93NUMPY", the version bytes 1 0, the header
// length (uint16 little-endian), the header (a Python dict literal with
// 'descr', 'fortran_order' and 'shape', padded with spaces and ended by
// "\n" so that the data starts at a multiple of 64 bytes), then the
// values.
package npy

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/seqdiff/seqdiff/internal/atomicfile"
)

// Magic starts every .npy file.
const Magic = "\x93NUMPY"

// align is the multiple of bytes the data starts at; growthDigits is
// numpy's GROWTH_AXIS_MAX_DIGITS.
const (
	align        = 64
	growthDigits = 21
)

// Header returns the preamble of a float32 array of the given shape:
// magic, version, header length and the header dict, byte for byte as
// numpy.save (1.24) writes it: the dict, 21 minus the digits of the first
// dimension spaces (room for numpy to grow that dimension in place), then
// spaces up to the "\n" that ends the header at a multiple of 64 bytes.
func Header(shape []int) ([]byte, error) {
	dims := make([]string, len(shape))
	for i, s := range shape {
		if s < 0 {
			return nil, fmt.Errorf("npy: shape %v has a negative dimension", shape)
		}
		dims[i] = strconv.Itoa(s)
	}
	tuple := "(" + strings.Join(dims, ", ") + ")"
	if len(shape) == 1 {
		tuple = "(" + dims[0] + ",)"
	}
	dict := "{'descr': '<f4', 'fortran_order': False, 'shape': " + tuple + ", }"
	if len(shape) > 0 {
		dict += strings.Repeat(" ", max(0, growthDigits-len(dims[0])))
	}
	pre := len(Magic) + 2 + 2
	pad := align - (pre+len(dict)+1)%align // numpy's rule: 1 to 64 spaces
	hlen := len(dict) + pad + 1
	if hlen > math.MaxUint16 {
		return nil, fmt.Errorf("npy: shape %v needs a header of %d bytes, more than format 1.0 holds", shape, hlen)
	}
	out := make([]byte, 0, pre+hlen)
	out = append(out, Magic...)
	out = append(out, 1, 0)
	out = binary.LittleEndian.AppendUint16(out, uint16(hlen))
	out = append(out, dict...)
	out = append(out, strings.Repeat(" ", pad)...)
	return append(out, '\n'), nil
}

// Write writes data as a float32 array of the given shape (C order: the
// last dimension varies fastest).
func Write(w io.Writer, shape []int, data []float32) error {
	n := 1
	for _, s := range shape {
		n *= s
	}
	if n != len(data) {
		return fmt.Errorf("npy: shape %v holds %d values, have %d", shape, n, len(data))
	}
	h, err := Header(shape)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	bw.Write(h)
	var b [4]byte
	for _, v := range data {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
		bw.Write(b[:])
	}
	return bw.Flush()
}

// WriteFile writes the array to path atomically (internal/atomicfile): a
// reader sees the old file or the whole new one.
func WriteFile(path string, shape []int, data []float32) error {
	return atomicfile.Write(path, func(f *os.File) error { return Write(f, shape, data) })
}
