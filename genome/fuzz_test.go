package genome

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type refRec struct{ name, seq string }

type refResult struct {
	recs []refRec
	err  error
}

// refParse is a deliberately simple line-by-line reading of the FASTA
// rules, to check the streaming parser against.
func refParse(data []byte) refResult {
	if len(data) == 0 {
		return refResult{err: ErrEmptyFile}
	}
	lines := strings.Split(string(data), "\n")
	var recs []refRec
	seen := map[string]bool{}
	var cur *strings.Builder
	closeRec := func() error {
		if cur != nil {
			if cur.Len() == 0 {
				return ErrEmptyRecord
			}
			recs[len(recs)-1].seq = cur.String()
		}
		return nil
	}
	for _, l := range lines {
		l = strings.TrimSuffix(l, "\r")
		switch {
		case l == "":
		case l[0] == '>':
			if err := closeRec(); err != nil {
				return refResult{recs, err}
			}
			f := strings.FieldsFunc(l[1:], func(r rune) bool { return strings.ContainsRune(" \t\v\f\r", r) })
			if len(f) == 0 {
				return refResult{recs, ErrEmptyName}
			}
			if seen[f[0]] {
				return refResult{recs, ErrDuplicateName}
			}
			seen[f[0]] = true
			recs = append(recs, refRec{name: f[0]})
			cur = &strings.Builder{}
		default:
			if cur == nil {
				return refResult{recs, ErrNoHeader}
			}
			for i := 0; i < len(l); i++ {
				c := l[i]
				switch {
				case strings.IndexByte("ACGTNacgtn", c) >= 0:
					cur.WriteByte(c &^ 0x20)
				case strings.IndexByte("RYKMSWBDHVrykmswbdhv", c) >= 0:
					cur.WriteByte('N')
				default:
					return refResult{recs, ErrBadByte}
				}
			}
		}
	}
	if err := closeRec(); err != nil {
		return refResult{recs, err}
	}
	if len(recs) == 0 {
		return refResult{err: ErrEmptyFile}
	}
	return refResult{recs: recs}
}

func FuzzFASTA(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.fa")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b, uint8(0))
		}
	}
	for _, tc := range goodFASTA {
		f.Add([]byte(tc.in), uint8(3))
	}
	for _, tc := range badFASTA {
		f.Add([]byte(tc.in), uint8(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, block uint8) {
		if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
			// gzip by its content: no panic, the alphabet, a FormatError.
			recs, err := readBytes(data)
			var fe *FormatError
			if err != nil && !errors.As(err, &fe) {
				t.Fatalf("gzip-looking input: %v is not a *FormatError", err)
			}
			for _, rec := range recs {
				if !IsNormalised(rec.Seq) {
					t.Fatalf("record %q has bytes outside ACGTN", rec.Name)
				}
			}
			return
		}
		ref := refParse(data)
		plain, err := readBytes(data)
		checkRef(t, "plain", plain, err, ref)
		bg, err := readBytes(quickBGZF(data, int(block%16)+1))
		checkRef(t, "BGZF", bg, err, ref)
		if ref.err != nil {
			return
		}
		// When samtools-style indexing succeeds, the index must describe
		// the records, and random access must agree with streaming.
		p := writeFile(t, t.TempDir(), "f.fa", data)
		idx, err := BuildFai(p)
		if err != nil {
			if !errors.Is(err, ErrNotIndexable) {
				t.Fatalf("BuildFai failed where Open succeeded: %v", err)
			}
			return
		}
		if len(idx) != len(plain) {
			t.Fatalf("index has %d records, file %d", len(idx), len(plain))
		}
		if err := WriteFai(p+".fai", idx); err != nil {
			t.Fatal(err)
		}
		x, err := OpenIndexed(p)
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		for i, e := range idx {
			if e.Name != plain[i].Name || e.Length != int64(len(plain[i].Seq)) {
				t.Fatalf("index entry %v for record %q of %d bases", e, plain[i].Name, len(plain[i].Seq))
			}
			s, err := x.Fetch(e.Name, 0, int(e.Length))
			if err != nil || !bytes.Equal(s, plain[i].Seq) {
				t.Fatalf("Fetch %s = %q, %v; streamed %q", e.Name, s, err, plain[i].Seq)
			}
		}
		// The streaming reader checks the .fai it finds.
		if again, err := readAll(p); err != nil || len(again) != len(plain) {
			t.Fatalf("reading with the index: %v", err)
		}
	})
}

// readBytes streams the records of an in-memory file.
func readBytes(data []byte) ([]Record, error) {
	if len(data) == 0 {
		return nil, &FormatError{Path: "mem.fa", Msg: "empty file", Err: ErrEmptyFile}
	}
	r, err := newReader("mem.fa", nopCloser{bytes.NewReader(data)}, true)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, rec)
	}
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// checkRef compares what the reader made of a file with the reference.
func checkRef(t *testing.T, what string, got []Record, err error, ref refResult) {
	t.Helper()
	for _, rec := range got {
		if !IsNormalised(rec.Seq) {
			t.Fatalf("%s: record %q has bytes outside ACGTN: %q", what, rec.Name, rec.Seq)
		}
	}
	if (err == nil) != (ref.err == nil) {
		t.Fatalf("%s: reader error %v, reference error %v", what, err, ref.err)
	}
	if err != nil {
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Path != "mem.fa" {
			t.Fatalf("%s: error %v is not a *FormatError naming the file", what, err)
		}
		if !errors.Is(err, ref.err) {
			t.Fatalf("%s: reader error %v, reference error %v", what, err, ref.err)
		}
		return
	}
	if len(got) != len(ref.recs) {
		t.Fatalf("%s: %d records, reference %d", what, len(got), len(ref.recs))
	}
	for i, rec := range got {
		if rec.Name != ref.recs[i].name || string(rec.Seq) != ref.recs[i].seq {
			t.Fatalf("%s: record %d = %q %q, reference %q %q", what, i, rec.Name, rec.Seq, ref.recs[i].name, ref.recs[i].seq)
		}
	}
}
