package genome

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

type wantRec struct{ name, desc, seq string }

var goodFASTA = []struct {
	name string
	in   string
	want []wantRec
}{
	{"wrapped", ">chr1\nACGT\nACGT\nAC\n", []wantRec{{"chr1", "", "ACGTACGTAC"}}},
	{"unwrapped multi", ">a\nACGTACGT\n>b\nGGGG\n>c\nT\n", []wantRec{{"a", "", "ACGTACGT"}, {"b", "", "GGGG"}, {"c", "", "T"}}},
	{"description", ">chr2 Homo sapiens\tchromosome 2 \nAC\n", []wantRec{{"chr2", "Homo sapiens\tchromosome 2", "AC"}}},
	{"crlf", ">a x\r\nACG\r\nT\r\n>b\r\nGG\r\n", []wantRec{{"a", "x", "ACGT"}, {"b", "", "GG"}}},
	{"blank lines", "\n\n>a\nAC\n\nGT\n\n\n>b\n\nTT\n\n", []wantRec{{"a", "", "ACGT"}, {"b", "", "TT"}}},
	{"crlf blank lines", "\r\n>a\r\n\r\nAC\r\n\r\n", []wantRec{{"a", "", "AC"}}},
	{"no final newline", ">a\nACGT\nAC", []wantRec{{"a", "", "ACGTAC"}}},
	{"no final newline crlf", ">a\r\nAC\r", []wantRec{{"a", "", "AC"}}},
	{"soft-masked", ">a\nacgtnACGTn\n", []wantRec{{"a", "", "ACGTNACGTN"}}},
	{"iupac codes", ">a\nRYKMSWBDHVrykmswbdhvN\n", []wantRec{{"a", "", "NNNNNNNNNNNNNNNNNNNNN"}}},
	{"header spaces", ">  lead  desc\nA\n", []wantRec{{"lead", "desc", "A"}}},
}

func TestReadGood(t *testing.T) {
	for _, tc := range goodFASTA {
		if tc.want == nil {
			continue
		}
		for _, c := range allCompressions {
			for _, block := range []int{0, 1, 3} {
				if block > 0 && c != BGZF {
					continue
				}
				t.Run(fmt.Sprintf("%s/%s/%d", tc.name, c, block), func(t *testing.T) {
					p := writeFile(t, t.TempDir(), "x.fa", compress(t, []byte(tc.in), c, block))
					recs, err := readAll(p)
					if err != nil {
						t.Fatal(err)
					}
					if len(recs) != len(tc.want) {
						t.Fatalf("got %d records, want %d", len(recs), len(tc.want))
					}
					for i, w := range tc.want {
						g := recs[i]
						if g.Name != w.name || g.Desc != w.desc || string(g.Seq) != w.seq {
							t.Errorf("record %d = {%q %q %q}, want {%q %q %q}", i, g.Name, g.Desc, g.Seq, w.name, w.desc, w.seq)
						}
					}
				})
			}
		}
	}
}

// TestRecordsOwnSeq checks that a record's Seq survives later calls.
func TestRecordsOwnSeq(t *testing.T) {
	p := writeFile(t, t.TempDir(), "x.fa", []byte(">a\nAAAA\n>b\nCCCC\n>c\nGGGG\n"))
	recs, err := readAll(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(recs[0].Seq) + string(recs[1].Seq) + string(recs[2].Seq); got != "AAAACCCCGGGG" {
		t.Fatalf("sequences %q", got)
	}
}

var badFASTA = []struct {
	name   string
	in     string
	kind   error
	line   int
	record string
	msg    string
}{
	{"no header", "ACGT\n>a\nAC\n", ErrNoHeader, 1, "", "before the first '>'"},
	{"no header after blank", "\n\nACGT\n", ErrNoHeader, 3, "", "before the first '>'"},
	{"only blank lines", "\n\n\n", ErrEmptyFile, 0, "", "no FASTA records"},
	{"empty record", ">a\n>b\nAC\n", ErrEmptyRecord, 1, "a", "no sequence after the header"},
	{"empty record blank", ">a\n\n\n>b\nAC\n", ErrEmptyRecord, 1, "a", "no sequence"},
	{"empty last record", ">a\nAC\n>b\n", ErrEmptyRecord, 3, "b", "no sequence"},
	{"empty last record no newline", ">a\nAC\n>b", ErrEmptyRecord, 3, "b", "no sequence"},
	{"duplicate", ">a\nAC\n>b\nGG\n>a x\nTT\n", ErrDuplicateName, 5, "a", "first seen at line 1"},
	{"no name", ">\nAC\n", ErrEmptyName, 1, "", "no record name"},
	{"no name spaces", ">a\nAC\n>  \nAC\n", ErrEmptyName, 3, "", "no record name"},
	{"digit", ">a\nACGT\nAC1T\n", ErrBadByte, 3, "a", "'1' at column 3"},
	{"star", ">a\nAC\n>b desc\nA*\n", ErrBadByte, 4, "b", "'*' at column 2"},
	{"dash", ">a\n-ACGT\n", ErrBadByte, 2, "a", "'-' at column 1"},
	{"dot", ">a\nAC.\n", ErrBadByte, 2, "a", "'.' at column 3"},
	{"uracil", ">a\nACGU\n", ErrBadByte, 2, "a", "'U' at column 4"},
	{"space", ">a\nAC GT\n", ErrBadByte, 2, "a", "space at column 3"},
	{"trailing space", ">a\nACGT \n", ErrBadByte, 2, "a", "space at column 5"},
	{"tab", ">a\nAC\tG\n", ErrBadByte, 2, "a", "tab at column 3"},
	{"stray cr", ">a\nAC\rGT\n", ErrBadByte, 2, "a", "carriage return at column 3"},
	{"gt inside line", ">a\nAC>GT\n", ErrBadByte, 2, "a", "'>' at column 3"},
	{"nul", ">a\nAC\x00\n", ErrBadByte, 2, "a", "byte 0x00 at column 3"},
	{"utf8", ">a\nACÅ\n", ErrBadByte, 2, "a", "byte 0xC3 at column 3"},
	{"semicolon comment", ">a\n;comment\nAC\n", ErrBadByte, 2, "a", "';' at column 1"},
}

func TestReadBad(t *testing.T) {
	for _, tc := range badFASTA {
		for _, c := range allCompressions {
			for _, block := range []int{0, 2} {
				if block > 0 && c != BGZF {
					continue
				}
				t.Run(fmt.Sprintf("%s/%s/%d", tc.name, c, block), func(t *testing.T) {
					p := writeFile(t, t.TempDir(), "bad.fa", compress(t, []byte(tc.in), c, block))
					_, err := readAll(p)
					checkFormatErr(t, err, tc.kind, p, tc.record, tc.line, tc.msg)
				})
			}
		}
	}
}

func checkFormatErr(t *testing.T, err error, kind error, path, record string, line int, msg string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if !errors.Is(err, kind) {
		t.Fatalf("error %q is not %v", err, kind)
	}
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("error %q is %T, not *FormatError", err, err)
	}
	if fe.Path != path || fe.Record != record || fe.Line != line || !strings.Contains(fe.Msg, msg) {
		t.Fatalf("error %q: got path %q record %q line %d, want %q %q %d and message containing %q", err, fe.Path, fe.Record, fe.Line, path, record, line, msg)
	}
	want := path
	if line > 0 {
		want += fmt.Sprint(":", line)
	}
	if record != "" {
		want += ": record " + record
	}
	if !strings.HasPrefix(err.Error(), want+": ") {
		t.Fatalf("error %q does not start with %q", err, want+": ")
	}
}

// TestReadBadDeep puts the bad byte far into a large file so that the line
// count has to survive many chunks and blocks.
func TestReadBadDeep(t *testing.T) {
	var b strings.Builder
	b.WriteString(">first\n")
	line := 1
	for range 40000 {
		b.WriteString("ACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGT\n")
		line++
	}
	b.WriteString(">second two\n")
	line++
	for range 3000 {
		b.WriteString("acgtacgtacgtacgtacgtacgtacgtacgtacgtacgtacgtacgtacgtacgtacgt\n")
		line++
	}
	b.WriteString("ACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACG#ACGT\n")
	line++
	for range 100 {
		b.WriteString("ACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGT\n")
	}
	for _, c := range allCompressions {
		t.Run(c.String(), func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "deep.fa", compress(t, []byte(b.String()), c, 0))
			recs, err := readAll(p)
			checkFormatErr(t, err, ErrBadByte, p, "second", line, "'#' at column 56")
			if len(recs) != 1 || len(recs[0].Seq) != 40000*60 {
				t.Fatalf("first record not read before the error: %d records", len(recs))
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "missing.fa")); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing.fa") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Open(dir); !errors.Is(err, ErrNotRegularFile) || !strings.Contains(err.Error(), "directory") || !strings.Contains(err.Error(), dir) {
		t.Errorf("directory: %v", err)
	}
	empty := writeFile(t, dir, "empty.fa", nil)
	_, err := Open(empty)
	checkFormatErr(t, err, ErrEmptyFile, empty, "", 0, "empty file")
	emptyGz := writeFile(t, dir, "empty.fa.gz", compress(t, nil, Gzip, 0))
	_, err = readAll(emptyGz)
	checkFormatErr(t, err, ErrEmptyFile, emptyGz, "", 0, "empty file")
	emptyBGZF := writeFile(t, dir, "empty.fa.bgz", compress(t, nil, BGZF, 0))
	_, err = readAll(emptyBGZF)
	checkFormatErr(t, err, ErrEmptyFile, emptyBGZF, "", 0, "empty file")
}

// bigFASTA returns a multi-record FASTA of about n bases.
func bigFASTA(n int) []byte {
	var b strings.Builder
	seed := uint32(1)
	for rec := 0; n > 0; rec++ {
		fmt.Fprintf(&b, ">rec%d\n", rec)
		m := min(n, 70000+rec*1237)
		for i := 0; i < m; i++ {
			seed = seed*1664525 + 1013904223
			b.WriteByte("ACGTacgtN"[seed>>28%9])
			if (i+1)%60 == 0 || i == m-1 {
				b.WriteByte('\n')
			}
		}
		n -= m
	}
	return []byte(b.String())
}

func TestTruncated(t *testing.T) {
	data := bigFASTA(300000)
	for _, c := range []Compression{Gzip, BGZF} {
		full := compress(t, data, c, 0)
		for _, cut := range []int{len(full) / 3, len(full) / 2, len(full) - 20, len(full) - 1} {
			t.Run(fmt.Sprintf("%s/%d", c, cut), func(t *testing.T) {
				p := writeFile(t, t.TempDir(), "cut.fa.gz", full[:cut])
				_, err := readAll(p)
				if !errors.Is(err, ErrTruncated) {
					t.Fatalf("got %v, want a truncation error", err)
				}
				var fe *FormatError
				if !errors.As(err, &fe) || fe.Path != p || fe.Line == 0 || fe.Record == "" || !strings.Contains(err.Error(), "truncated") {
					t.Fatalf("error %q does not name the file, line and truncation", err)
				}
			})
		}
	}
	// A BGZF file cut exactly between blocks lacks only the EOF marker.
	full := compress(t, data, BGZF, 0)
	p := writeFile(t, t.TempDir(), "noeof.fa.gz", full[:len(full)-len(bgzfEOF)])
	if _, err := readAll(p); !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "end-of-file marker") {
		t.Fatalf("missing EOF block: %v", err)
	}
}

func TestCorruptBGZF(t *testing.T) {
	full := compress(t, bigFASTA(200000), BGZF, 0)
	bad := append([]byte(nil), full...)
	bad[len(bad)/2] ^= 0x55
	p := writeFile(t, t.TempDir(), "corrupt.fa.gz", bad)
	_, err := readAll(p)
	if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTruncated) {
		t.Fatalf("got %v, want a corrupt-data error", err)
	}
}

// TestReadLarge compares a multi-block file read in every storage.
func TestReadLarge(t *testing.T) {
	data := bigFASTA(500000)
	want, err := readAll(writeFile(t, t.TempDir(), "big.fa", data))
	if err != nil {
		t.Fatal(err)
	}
	ref := refParse(data)
	if ref.err != nil || len(ref.recs) != len(want) {
		t.Fatalf("reference parse: %v, %d records", ref.err, len(ref.recs))
	}
	for i := range want {
		if want[i].Name != ref.recs[i].name || string(want[i].Seq) != ref.recs[i].seq {
			t.Fatalf("record %d differs from the reference parse", i)
		}
	}
	for _, c := range []Compression{Gzip, BGZF} {
		for _, block := range []int{0, 777} {
			got, err := readAll(writeFile(t, t.TempDir(), "big.fa.gz", compress(t, data, c, block)))
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if got[i].Name != want[i].Name || string(got[i].Seq) != string(want[i].Seq) {
					t.Fatalf("%s/%d: record %d differs", c, block, i)
				}
			}
		}
	}
}

func TestSniff(t *testing.T) {
	dir := t.TempDir()
	for _, c := range allCompressions {
		p := writeFile(t, dir, "x"+c.String(), compress(t, []byte(">a\nA\n"), c, 0))
		got, err := Sniff(p)
		if err != nil || got != c {
			t.Errorf("Sniff(%s) = %v, %v", c, got, err)
		}
	}
}

// TestCloseEarly closes readers part way, and after errors, and checks
// that no decompression goroutine is left behind.
func TestCloseEarly(t *testing.T) {
	data := bigFASTA(400000)
	dir := t.TempDir()
	paths := []string{
		writeFile(t, dir, "a.fa", data),
		writeFile(t, dir, "a.fa.gz", compress(t, data, Gzip, 0)),
		writeFile(t, dir, "a.fa.bgz", compress(t, data, BGZF, 0)),
		writeFile(t, dir, "cut.fa.bgz", compress(t, data, BGZF, 0)[:20000]),
	}
	before := runtime.NumGoroutine()
	for range 20 {
		for _, p := range paths {
			for _, reads := range []int{0, 1, 100} {
				r, err := Open(p)
				if err != nil {
					t.Fatal(err)
				}
				for range reads {
					if _, err := r.Next(); err != nil {
						break
					}
				}
				if err := r.Close(); err != nil {
					t.Fatal(err)
				}
				if _, err := r.Next(); err == nil {
					t.Fatal("Next after Close succeeded")
				}
			}
		}
	}
	for range 100 {
		if runtime.NumGoroutine() <= before {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%d goroutines before, %d after", before, runtime.NumGoroutine())
}

func TestTruncatedGzipHeader(t *testing.T) {
	full := compress(t, []byte(">a\nACGT\n"), Gzip, 0)
	for _, cut := range []int{2, 5, 9} {
		p := writeFile(t, t.TempDir(), "h.fa.gz", full[:cut])
		_, err := readAll(p)
		if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), p) {
			t.Errorf("gzip cut at %d: %v", cut, err)
		}
	}
}
