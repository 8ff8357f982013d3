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
		ref := refParse(data)
		dir := t.TempDir()
		check := func(c Compression, b int) {
			p := writeFile(t, dir, "f.fa", compress(t, data, c, b))
			got, err := readAll(p)
			for _, rec := range got {
				if !IsNormalised(rec.Seq) {
					t.Fatalf("%s: record %q has bytes outside ACGTN: %q", c, rec.Name, rec.Seq)
				}
			}
			if (err == nil) != (ref.err == nil) {
				t.Fatalf("%s/%d: reader error %v, reference error %v", c, b, err, ref.err)
			}
			if err != nil {
				var fe *FormatError
				if !errors.As(err, &fe) || fe.Path != p {
					t.Fatalf("%s: error %v is not a *FormatError naming the file", c, err)
				}
				if !errors.Is(err, ref.err) {
					t.Fatalf("%s: reader error %v, reference error %v", c, err, ref.err)
				}
				return
			}
			if len(got) != len(ref.recs) {
				t.Fatalf("%s: %d records, reference %d", c, len(got), len(ref.recs))
			}
			for i, rec := range got {
				if rec.Name != ref.recs[i].name || string(rec.Seq) != ref.recs[i].seq {
					t.Fatalf("%s: record %d = %q %q, reference %q %q", c, i, rec.Name, rec.Seq, ref.recs[i].name, ref.recs[i].seq)
				}
			}
			if c != Plain {
				return
			}
			// When samtools-style indexing succeeds, the index must
			// describe the records, and random access must agree.
			idx, err := BuildFai(p)
			if err != nil {
				if !errors.Is(err, ErrNotIndexable) {
					t.Fatalf("BuildFai failed where Open succeeded: %v", err)
				}
				return
			}
			if len(idx) != len(got) {
				t.Fatalf("index has %d records, file %d", len(idx), len(got))
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
				if e.Name != got[i].Name || e.Length != int64(len(got[i].Seq)) {
					t.Fatalf("index entry %v for record %q of %d bases", e, got[i].Name, len(got[i].Seq))
				}
				s, err := x.Fetch(e.Name, 0, int(e.Length))
				if err != nil || !bytes.Equal(s, got[i].Seq) {
					t.Fatalf("Fetch %s = %q, %v; streamed %q", e.Name, s, err, got[i].Seq)
				}
			}
			// The streaming reader checks the .fai it finds.
			again, err := readAll(p)
			if err != nil || len(again) != len(got) {
				t.Fatalf("reading with the index: %v", err)
			}
		}
		check(Plain, 0)
		check(BGZF, int(block%16)+1)
	})
}

var _ = io.EOF
