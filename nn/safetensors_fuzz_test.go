package nn

import (
	"bytes"
	"testing"
)

// FuzzSafetensors: no input makes the reader panic, and what it accepts
// reads back consistently.
func FuzzSafetensors(f *testing.F) {
	var buf bytes.Buffer
	WriteSafetensors(&buf, []NamedTensor{{Name: "a", Shape: []int{2, 3}, Data: make([]float32, 6)},
		{Name: "b", Shape: []int{1}, Data: []float32{1}}}, map[string]string{"k": "v"})
	f.Add(buf.Bytes())
	f.Add([]byte{})
	f.Add([]byte("\x10\x00\x00\x00\x00\x00\x00\x00{\"x\":{}}        "))
	f.Fuzz(func(t *testing.T, raw []byte) {
		st, err := parseSafetensors("fuzz", raw)
		if err != nil {
			return
		}
		for _, name := range st.Names() {
			e := st.entries[name]
			v, err := st.F32(name, e.Shape)
			if e.Dtype == "F32" && (err != nil || 4*len(v) != e.DataOffsets[1]-e.DataOffsets[0]) {
				t.Fatalf("%s: accepted F32 entry reads back wrong: %v", name, err)
			}
		}
	})
}
