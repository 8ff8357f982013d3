package nn

import (
	"bytes"
	"encoding/binary"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"
)

// FuzzSafetensors: no input makes the reader panic; every error names the
// file; whether a file reads does not depend on map order; and what it
// accepts is consistent: the spans tile the data section, F32 tensors read
// back with the size of their shape, and an all-F32 file written again by
// WriteSafetensors reads to the same tensors, bit for bit.
//
//	go test -run '^$' -fuzz FuzzSafetensors -fuzztime 10m -parallel 1 ./nn
func FuzzSafetensors(f *testing.F) {
	var buf bytes.Buffer
	WriteSafetensors(&buf, []NamedTensor{{Name: "a", Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, float32(math.NaN())}},
		{Name: "b", Shape: []int{1}, Data: []float32{1}}}, map[string]string{"k": "v"})
	f.Add(buf.Bytes())
	f.Add([]byte{})
	f.Add([]byte("\x10\x00\x00\x00\x00\x00\x00\x00{\"x\":{}}        "))
	f.Add(stFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 8))
	f.Add(stFile(`{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"__metadata__":{"step":"3"}}`, 4))
	f.Add(stFile(`{"a":{"dtype":"I8","shape":[3],"data_offsets":[0,3]},"b":{"dtype":"F32","shape":[1],"data_offsets":[3,7]}}`, 7))
	f.Add(stFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}}`, 8))
	f.Add(stFile(`{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}`, 0))
	f.Fuzz(func(t *testing.T, raw []byte) {
		st, err := parseSafetensors("fuzz.safetensors", raw)
		_, err2 := parseSafetensors("fuzz.safetensors", raw)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("two reads of one file: %v, then %v", err, err2)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.safetensors: ") {
				t.Fatalf("error %q does not start with the file name", err)
			}
			return
		}
		names := st.Names()
		sort.Slice(names, func(i, j int) bool {
			a, b := st.entries[names[i]].DataOffsets, st.entries[names[j]].DataOffsets
			return a[0] < b[0] || a[0] == b[0] && a[1] < b[1]
		})
		at, allF32 := 0, true
		var tensors []NamedTensor
		for _, name := range names {
			e := st.entries[name]
			if e.DataOffsets[0] != at || e.DataOffsets[1] < at || e.DataOffsets[1] > len(st.data) {
				t.Fatalf("%s: span %v after byte %d of %d", name, e.DataOffsets, at, len(st.data))
			}
			at = e.DataOffsets[1]
			if e.Dtype != "F32" {
				allF32 = false
				if _, err := st.F32(name, e.Shape); err == nil {
					t.Fatalf("%s: %s tensor read as F32", name, e.Dtype)
				}
				continue
			}
			v, err := st.F32(name, e.Shape)
			n := 1
			for _, d := range e.Shape {
				n *= d
			}
			if err != nil || len(v) != n || 4*len(v) != e.DataOffsets[1]-e.DataOffsets[0] {
				t.Fatalf("%s: accepted F32 %v entry reads back %d values, %v", name, e.Shape, len(v), err)
			}
			if _, err := st.F32(name, append(slices.Clone(e.Shape), 1)); err == nil {
				t.Fatalf("%s: read with a wrong shape", name)
			}
			tensors = append(tensors, NamedTensor{Name: name, Shape: e.Shape, Data: v})
		}
		if at != len(st.data) {
			t.Fatalf("tensors cover %d of %d data bytes", at, len(st.data))
		}
		if !allF32 {
			return
		}
		var out bytes.Buffer
		if err := WriteSafetensors(&out, tensors, st.Meta); err != nil {
			t.Fatalf("write back: %v", err)
		}
		back, err := parseSafetensors("back", out.Bytes())
		if err != nil {
			t.Fatalf("written back, does not read: %v", err)
		}
		if !bytes.Equal(back.data, st.data) || !slices.Equal(back.Names(), st.Names()) || !maps.Equal(back.Meta, st.Meta) {
			t.Fatalf("round trip changed the data, the names or the metadata")
		}
		for _, nt := range tensors {
			if !slices.Equal(back.entries[nt.Name].Shape, nt.Shape) {
				t.Fatalf("%s: shape %v read back as %v", nt.Name, nt.Shape, back.entries[nt.Name].Shape)
			}
		}
	})
}

// stFile is a safetensors file with the given header and n zero data bytes.
func stFile(header string, n int) []byte {
	raw := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(raw, header...), make([]byte, n)...)
}
