package nn

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
)

// The safetensors format: an 8-byte little-endian header length n, n bytes
// of JSON mapping each tensor name to {"dtype", "shape", "data_offsets":
// [begin, end]} (offsets relative to the data section that follows the
// header) plus an optional "__metadata__" string map, then the data.
// This package writes float32 only and reads what it needs (F32).

// maxHeader bounds the JSON header we accept (the reference implementation
// uses 100 MB); a larger length means a corrupt or foreign file.
const maxHeader = 100 << 20

// NamedTensor is one float32 tensor to write.
type NamedTensor struct {
	Name  string
	Shape []int
	Data  []float32
}

type stEntry struct {
	Dtype       string `json:"dtype"`
	Shape       []int  `json:"shape"`
	DataOffsets [2]int `json:"data_offsets"`
}

// WriteSafetensors writes tensors (in the given order) and metadata.
func WriteSafetensors(w io.Writer, tensors []NamedTensor, meta map[string]string) error {
	header := make(map[string]any, len(tensors)+1)
	if len(meta) > 0 {
		header["__metadata__"] = meta
	}
	off := 0
	for _, t := range tensors {
		n := 1
		for _, s := range t.Shape {
			n *= s
		}
		if n != len(t.Data) {
			return fmt.Errorf("safetensors: tensor %q: shape %v holds %d values, have %d", t.Name, t.Shape, n, len(t.Data))
		}
		if _, dup := header[t.Name]; dup {
			return fmt.Errorf("safetensors: tensor %q written twice", t.Name)
		}
		header[t.Name] = stEntry{Dtype: "F32", Shape: t.Shape, DataOffsets: [2]int{off, off + 4*n}}
		off += 4 * n
	}
	hj, err := json.Marshal(header)
	if err != nil {
		return err
	}
	// Pad the header with spaces so the data starts 8-byte aligned.
	for (8+len(hj))%8 != 0 {
		hj = append(hj, ' ')
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var lenb [8]byte
	binary.LittleEndian.PutUint64(lenb[:], uint64(len(hj)))
	bw.Write(lenb[:])
	bw.Write(hj)
	var buf [4]byte
	for _, t := range tensors {
		for _, v := range t.Data {
			binary.LittleEndian.PutUint32(buf[:], math.Float32bits(v))
			bw.Write(buf[:])
		}
	}
	return bw.Flush()
}

// Safetensors is a parsed safetensors file held in memory.
type Safetensors struct {
	Path    string
	Meta    map[string]string
	entries map[string]stEntry
	data    []byte
}

// Names lists the tensor names, sorted.
func (s *Safetensors) Names() []string {
	out := make([]string, 0, len(s.entries))
	for k := range s.entries {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var dtypeSize = map[string]int{"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}

// ReadSafetensors reads and checks a safetensors file: the header length
// must fit the file, every entry must have a known dtype, a shape whose
// size matches its byte span, and offsets inside the data section; the
// spans must tile the data section without gaps or overlaps.
func ReadSafetensors(path string) (*Safetensors, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseSafetensors(path, raw)
}

func parseSafetensors(path string, raw []byte) (*Safetensors, error) {
	if len(raw) < 8 {
		return nil, fmt.Errorf("%s: truncated: %d bytes, shorter than the 8-byte header length", path, len(raw))
	}
	n := binary.LittleEndian.Uint64(raw[:8])
	if n > maxHeader {
		return nil, fmt.Errorf("%s: header length %d is implausible (corrupt or not safetensors)", path, n)
	}
	if n > uint64(len(raw)-8) {
		return nil, fmt.Errorf("%s: truncated: header length %d but only %d bytes follow", path, n, len(raw)-8)
	}
	hdr := raw[8 : 8+n]
	data := raw[8+n:]
	var generic map[string]json.RawMessage
	if err := json.Unmarshal(bytes.TrimRight(hdr, " "), &generic); err != nil {
		return nil, fmt.Errorf("%s: header JSON: %w", path, err)
	}
	s := &Safetensors{Path: path, entries: make(map[string]stEntry, len(generic)), data: data}
	type span struct {
		name       string
		begin, end int
	}
	var spans []span
	for _, name := range slices.Sorted(maps.Keys(generic)) { // sorted: the same file, the same error
		msg := generic[name]
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &s.Meta); err != nil {
				return nil, fmt.Errorf("%s: __metadata__: %w", path, err)
			}
			continue
		}
		var e stEntry
		dec := json.NewDecoder(bytes.NewReader(msg))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return nil, fmt.Errorf("%s: tensor %q: header entry: %w", path, name, err)
		}
		size, ok := dtypeSize[e.Dtype]
		if !ok {
			return nil, fmt.Errorf("%s: tensor %q: unknown dtype %q", path, name, e.Dtype)
		}
		count := 1
		for _, d := range e.Shape {
			if d < 0 {
				return nil, fmt.Errorf("%s: tensor %q: negative dimension in shape %v", path, name, e.Shape)
			}
			if d > 0 && count > len(data)/d {
				return nil, fmt.Errorf("%s: tensor %q: shape %v is larger than the %d-byte data section", path, name, e.Shape, len(data))
			}
			count *= d
		}
		b, en := e.DataOffsets[0], e.DataOffsets[1]
		if b < 0 || en < b {
			return nil, fmt.Errorf("%s: tensor %q: bad data_offsets [%d, %d]", path, name, b, en)
		}
		if en > len(data) {
			return nil, fmt.Errorf("%s: tensor %q: data_offsets [%d, %d] run past the %d-byte data section (truncated file or lying header)", path, name, b, en, len(data))
		}
		if en-b != count*size {
			return nil, fmt.Errorf("%s: tensor %q: data_offsets span %d bytes but %s %v needs %d", path, name, en-b, e.Dtype, e.Shape, count*size)
		}
		s.entries[name] = e
		spans = append(spans, span{name, b, en})
	}
	// Order by (begin, end, name): an empty tensor may share its begin with
	// the next one, and map order must not decide whether the file reads.
	sort.Slice(spans, func(i, j int) bool {
		a, b := spans[i], spans[j]
		if a.begin != b.begin {
			return a.begin < b.begin
		}
		if a.end != b.end {
			return a.end < b.end
		}
		return a.name < b.name
	})
	at := 0
	for _, sp := range spans {
		if sp.begin != at {
			if sp.begin < at {
				return nil, fmt.Errorf("%s: tensor %q: data_offsets [%d, %d] overlap the previous tensor", path, sp.name, sp.begin, sp.end)
			}
			return nil, fmt.Errorf("%s: tensor %q: data_offsets [%d, %d] leave a gap at byte %d", path, sp.name, sp.begin, sp.end, at)
		}
		at = sp.end
	}
	if at != len(data) {
		return nil, fmt.Errorf("%s: data section has %d bytes, tensors cover %d (trailing bytes)", path, len(data), at)
	}
	return s, nil
}

// F32 returns the named tensor as float32 values, checking that it exists,
// is F32 and has the wanted shape.
func (s *Safetensors) F32(name string, shape []int) ([]float32, error) {
	if err := s.checkF32(name, shape); err != nil {
		return nil, err
	}
	e := s.entries[name]
	b := s.data[e.DataOffsets[0]:e.DataOffsets[1]]
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}

// checkF32 reports whether the named tensor exists as F32 of shape.
func (s *Safetensors) checkF32(name string, shape []int) error {
	e, ok := s.entries[name]
	if !ok {
		return fmt.Errorf("%s: missing tensor %q", s.Path, name)
	}
	if e.Dtype != "F32" {
		return fmt.Errorf("%s: tensor %q has dtype %s, want F32", s.Path, name, e.Dtype)
	}
	if !sameShape(e.Shape, shape) {
		return fmt.Errorf("%s: tensor %q has shape %v, want %v", s.Path, name, e.Shape, shape)
	}
	return nil
}

// readInto fills dst (laid out by table) with the tensors named prefix+name.
// Tensors in the file that the table does not name are errors, so a file
// for another shape is never half-read.
func (s *Safetensors) readInto(dst []float32, table []Tensor, prefix string) error {
	want := make(map[string]bool, len(table))
	for _, t := range table {
		want[prefix+t.Name] = true
		v, err := s.F32(prefix+t.Name, t.Shape)
		if err != nil {
			return err
		}
		copy(dst[t.Offset:t.Offset+t.Size], v)
	}
	var extra []string
	for name := range s.entries {
		if !want[name] {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		if len(extra) > 5 {
			extra = append(extra[:5], "...")
		}
		return fmt.Errorf("%s: unexpected tensors %s (checkpoint for another model shape?)", s.Path, strings.Join(extra, ", "))
	}
	return nil
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// tableTensors views host (laid out by table) as named tensors.
func tableTensors(host []float32, table []Tensor, prefix string) []NamedTensor {
	out := make([]NamedTensor, len(table))
	for i, t := range table {
		out[i] = NamedTensor{Name: prefix + t.Name, Shape: t.Shape, Data: host[t.Offset : t.Offset+t.Size]}
	}
	return out
}
