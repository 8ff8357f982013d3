package genome

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// indexable are FASTA texts that samtools faidx can index.
var indexable = []struct{ name, in string }{
	{"wrapped", ">chr1\nACGT\nACGT\nAC\n"},
	{"exact lines", ">chr1 desc\nACGT\nACGT\n>chr2\nAAAA\n"},
	{"unwrapped multi", ">a\nACGTACGT\n>b\nGGGG\n>c\nT\n"},
	{"crlf", ">a x\r\nACG\r\nT\r\n>b\r\nGG\r\n"},
	{"blank between records", "\n>a\nAC\nGT\n\n\n>b\nTT\n\n"},
	{"no final newline", ">a\nACGT\nAC"},
	{"single line no newline", ">a\nACGTAC"},
	{"soft-masked iupac", ">a\nacgtnRYKM\nSWBDHVacg\nt\n"},
	{"big", string(bigFASTA(400000))},
}

func TestBuildFaiMatchesSamtools(t *testing.T) {
	samtools, err := exec.LookPath("samtools")
	if err != nil {
		t.Skip("samtools not on PATH")
	}
	for _, tc := range indexable {
		for _, c := range []Compression{Plain, BGZF} {
			t.Run(tc.name+"/"+c.String(), func(t *testing.T) {
				dir := t.TempDir()
				p := writeFile(t, dir, "x.fa", compress(t, []byte(tc.in), c, 1000))
				out, err := exec.Command(samtools, "faidx", p).CombinedOutput()
				if err != nil {
					t.Fatalf("samtools faidx: %v\n%s", err, out)
				}
				wantFai, _ := os.ReadFile(p + ".fai")
				idx, err := BuildFai(p)
				if err != nil {
					t.Fatal(err)
				}
				mine := filepath.Join(dir, "mine.fai")
				if err := WriteFai(mine, idx); err != nil {
					t.Fatal(err)
				}
				gotFai, _ := os.ReadFile(mine)
				if !bytes.Equal(gotFai, wantFai) {
					t.Fatalf(".fai differs from samtools:\n%s\nsamtools:\n%s", gotFai, wantFai)
				}
				if c == BGZF {
					wantGzi, _ := os.ReadFile(p + ".gzi")
					gzi, err := BuildGzi(p)
					if err != nil {
						t.Fatal(err)
					}
					if err := WriteGzi(filepath.Join(dir, "mine.gzi"), gzi); err != nil {
						t.Fatal(err)
					}
					gotGzi, _ := os.ReadFile(filepath.Join(dir, "mine.gzi"))
					if !bytes.Equal(gotGzi, wantGzi) {
						t.Fatalf(".gzi differs from samtools (%d vs %d bytes)", len(gotGzi), len(wantGzi))
					}
				}
				// Random access agrees with streaming, samtools' index in place.
				checkFetchAll(t, p)
			})
		}
	}
}

// checkFetchAll compares Fetch over many ranges with the streamed records.
func checkFetchAll(t *testing.T, p string) {
	t.Helper()
	recs, err := readAll(p) // also checks the .fai against the data
	if err != nil {
		t.Fatal(err)
	}
	x, err := OpenIndexed(p)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if got := x.Names(); len(got) != len(recs) {
		t.Fatalf("Names() = %v", got)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, rec := range recs {
		n, err := x.Len(rec.Name)
		if err != nil || n != len(rec.Seq) {
			t.Fatalf("Len(%s) = %d, %v; want %d", rec.Name, n, err, len(rec.Seq))
		}
		ranges := [][2]int{{0, n}, {0, 1}, {n - 1, n}, {n / 2, n / 2}}
		for range 30 {
			a, b := rng.IntN(n+1), rng.IntN(n+1)
			ranges = append(ranges, [2]int{min(a, b), max(a, b)})
		}
		for _, r := range ranges {
			got, err := x.Fetch(rec.Name, r[0], r[1])
			if err != nil {
				t.Fatalf("Fetch(%s, %d, %d): %v", rec.Name, r[0], r[1], err)
			}
			if !bytes.Equal(got, rec.Seq[r[0]:r[1]]) {
				t.Fatalf("Fetch(%s, %d, %d) = %.40q, streamed %.40q", rec.Name, r[0], r[1], got, rec.Seq[r[0]:r[1]])
			}
		}
	}
}

func TestBuildFaiErrors(t *testing.T) {
	cases := []struct {
		name, in string
		kind     error
		line     int
		record   string
		msg      string
	}{
		{"long line", ">a\nACGT\nACGTA\nA\n", ErrNotIndexable, 3, "a", "more than the record's first line"},
		{"mixed line ends", ">a\nA\r\nAA", ErrNotIndexable, 3, "a", "2 bases in 3 bytes, more than the record's first line (1 in 3)"},
		{"short middle line", ">a\nACGT\nAC\nACGT\n", ErrNotIndexable, 3, "a", "shorter (2 bases) than the first line (4)"},
		{"blank inside", ">a\nACGT\n\nACGT\n", ErrNotIndexable, 3, "a", "blank line inside the record"},
		{"blank after header", ">a\n\nACGT\n", ErrNotIndexable, 2, "a", "blank line inside the record"},
		{"bad byte", ">a\nACGT\nAC-T\n", ErrBadByte, 3, "a", "'-' at column 3"},
		{"empty record", ">a\n>b\nAC\n", ErrEmptyRecord, 1, "a", "no sequence"},
		{"duplicate", ">a\nA\n>a\nC\n", ErrDuplicateName, 3, "a", "duplicate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "x.fa", []byte(tc.in))
			_, err := BuildFai(p)
			checkFormatErr(t, err, tc.kind, p, tc.record, tc.line, tc.msg)
		})
	}
	p := writeFile(t, t.TempDir(), "x.fa.gz", compress(t, []byte(">a\nACGT\n"), Gzip, 0))
	_, err := BuildFai(p)
	if !errors.Is(err, ErrNotBGZF) || !strings.Contains(err.Error(), "bgzip") || !strings.Contains(err.Error(), p) {
		t.Fatalf("gzip: %v", err)
	}
	if _, err := OpenIndexed(p); !errors.Is(err, ErrNotBGZF) {
		t.Fatalf("OpenIndexed on gzip: %v", err)
	}
	if _, err := BuildGzi(p); !errors.Is(err, ErrNotBGZF) {
		t.Fatalf("BuildGzi on gzip: %v", err)
	}
}

func TestReadFaiErrors(t *testing.T) {
	cases := []struct{ name, in, msg string }{
		{"columns", "a\t4\t3\t4\n", "4 tab-separated columns"},
		{"fastq", "a\t4\t3\t4\t5\t10\n", "FASTQ"},
		{"not a number", "a\t4\tx\t4\t5\n", `column 3 is "x"`},
		{"negative", "a\t-4\t3\t4\t5\n", `column 2 is "-4"`},
		{"width", "a\t4\t3\t4\t9\n", "line ends"},
		{"duplicate", "a\t4\t3\t4\t5\na\t4\t20\t4\t5\n", "duplicate"},
		{"overlap", "a\t8\t3\t4\t5\nb\t4\t5\t4\t5\n", "overlaps"},
		{"empty", "", "empty index"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "x.fa.fai", []byte(tc.in))
			_, err := ReadFai(p)
			if !errors.Is(err, ErrBadIndex) || !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), p) {
				t.Fatalf("got %v, want a malformed-index error about %q", err, tc.msg)
			}
		})
	}
}

// TestStaleFai checks that an index that does not describe the file is
// caught both when streaming and by random access.
func TestStaleFai(t *testing.T) {
	const fa = ">a\nACGTACGT\nACGT\n>b desc\nGGGGCCCC\nTT\n"
	good := "a\t12\t3\t8\t9\nb\t10\t25\t8\t9\n"
	cases := []struct {
		name, fai string
		fetch     bool // the error shows only when fetching
		rec       string
	}{
		{"length", "a\t11\t3\t8\t9\nb\t10\t25\t8\t9\n", true, "a"},
		{"length of last", "a\t12\t3\t8\t9\nb\t9\t25\t8\t9\n", true, "b"},
		{"last too long", "a\t12\t3\t8\t9\nb\t12\t25\t8\t9\n", false, "b"},
		{"offset", "a\t12\t3\t8\t9\nb\t10\t24\t8\t9\n", true, "b"},
		{"name", "a\t12\t3\t8\t9\nc\t10\t25\t8\t9\n", true, "b"},
		{"line width", "a\t12\t3\t7\t8\nb\t10\t25\t8\t9\n", true, "a"},
		{"huge length", "a\t999999999999\t3\t8\t9\n", false, "a"},
		{"missing record", "a\t12\t3\t8\t9\n", false, ""},
		{"extra record", good + "c\t1\t40\t1\t2\n", false, ""},
	}
	for _, tc := range cases {
		for _, c := range []Compression{Plain, BGZF} {
			t.Run(tc.name+"/"+c.String(), func(t *testing.T) {
				dir := t.TempDir()
				p := writeFile(t, dir, "x.fa", compress(t, []byte(fa), c, 7))
				if c == BGZF {
					gzi, err := BuildGzi(p)
					if err != nil {
						t.Fatal(err)
					}
					WriteGzi(p+".gzi", gzi)
				}
				writeFile(t, dir, "x.fa.fai", []byte(good))
				checkFetchAll(t, p) // the good index works
				writeFile(t, dir, "x.fa.fai", []byte(tc.fai))
				_, err := readAll(p)
				if !errors.Is(err, ErrIndexMismatch) || !strings.Contains(err.Error(), "seqdiff index") {
					t.Fatalf("streaming with a stale index: %v", err)
				}
				x, err := OpenIndexed(p)
				if err == nil {
					defer x.Close()
					for _, name := range x.Names() {
						n, _ := x.Len(name)
						if _, err = x.Fetch(name, 0, n); err != nil {
							break
						}
					}
				}
				if tc.rec == "" {
					return // names and lengths agree where both have the record
				}
				if !errors.Is(err, ErrIndexMismatch) {
					t.Fatalf("random access with a stale index: %v", err)
				}
			})
		}
	}
}

func TestIndexedErrors(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "x.fa", []byte(">chr1\nACGT\nAC\n>chrM\nGG\n"))
	if _, err := OpenIndexed(p); !errors.Is(err, ErrNoIndex) || !strings.Contains(err.Error(), "seqdiff index") {
		t.Fatalf("no .fai: %v", err)
	}
	idx, err := BuildFai(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteFai(p+".fai", idx); err != nil {
		t.Fatal(err)
	}
	x, err := OpenIndexed(p)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	for _, r := range [][2]int{{-1, 2}, {3, 2}, {0, 7}} {
		if _, err := x.Fetch("chr1", r[0], r[1]); !errors.Is(err, ErrRange) {
			t.Errorf("Fetch(chr1, %d, %d): %v", r[0], r[1], err)
		}
	}
	_, err = x.Fetch("1", 0, 1)
	if !errors.Is(err, ErrNoSuchRecord) || !strings.Contains(err.Error(), `did you mean "chr1"`) {
		t.Errorf("Fetch(1): %v", err)
	}
	if s, err := x.Fetch("chr1", 2, 5); err != nil || string(s) != "GTA" {
		t.Errorf("Fetch across a line end = %q, %v", s, err)
	}
	// A header longer than the first look back.
	long := writeFile(t, dir, "long.fa", []byte(">x\nAC\n>chr7 "+strings.Repeat("description ", 500)+"\nACGTAC\nGT\n"))
	if idx, err := BuildFai(long); err != nil || WriteFai(long+".fai", idx) != nil {
		t.Fatal(err)
	}
	checkFetchAll(t, long)
	bg := writeFile(t, dir, "y.fa.gz", compress(t, []byte(">a\nACGT\n"), BGZF, 0))
	writeFile(t, dir, "y.fa.gz.fai", []byte("a\t4\t3\t4\t5\n"))
	if _, err := OpenIndexed(bg); !errors.Is(err, ErrNoIndex) || !strings.Contains(err.Error(), ".gzi") {
		t.Fatalf("no .gzi: %v", err)
	}
}

// TestChr20FetchMatchesStream reads GRCh37 chr20 by streaming and by
// random access with its shipped samtools index, at random places.
func TestChr20FetchMatchesStream(t *testing.T) {
	p := sharedData(t, "genome/grch37_chr20.fa.gz")
	if testing.Short() {
		t.Skip("reads 63 Mb")
	}
	recs, err := readAll(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Name != "20" || len(recs[0].Seq) != 63025520 {
		t.Fatalf("chr20: %d records", len(recs))
	}
	seq := recs[0].Seq
	if !IsNormalised(seq) {
		t.Fatal("chr20 has bytes outside ACGTN")
	}
	x, err := OpenIndexed(p)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	rng := rand.New(rand.NewPCG(20, 20))
	for i := range 300 {
		a := rng.IntN(len(seq))
		b := min(len(seq), a+rng.IntN(1<<[]int{4, 10, 18}[i%3]))
		got, err := x.Fetch("20", a, b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, seq[a:b]) {
			t.Fatalf("Fetch(20, %d, %d) differs from the stream", a, b)
		}
	}
	// Our index of chr20 is the one samtools shipped.
	idx, err := BuildFai(p)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ReadFai(p + ".fai")
	if fmt.Sprint(idx) != fmt.Sprint(want) {
		t.Fatalf("BuildFai = %v, shipped %v", idx, want)
	}
	gzi, err := BuildGzi(p)
	if err != nil {
		t.Fatal(err)
	}
	// The shipped .gzi was written by bgzip -i, which also lists the EOF block.
	wantGzi, _ := ReadGzi(p + ".gzi")
	if last := wantGzi[len(wantGzi)-1]; last.Uncompressed == 64075950 { // the uncompressed size
		wantGzi = wantGzi[:len(wantGzi)-1]
	}
	if fmt.Sprint(gzi) != fmt.Sprint(wantGzi) {
		t.Fatalf("BuildGzi differs from the shipped .gzi (%d vs %d entries)", len(gzi), len(wantGzi))
	}
}

// TestBGZFEmptyBlocks reads a BGZF file with an end-of-file marker in the
// middle (as from concatenating two bgzip files): an empty block is legal.
func TestBGZFEmptyBlocks(t *testing.T) {
	data := bigFASTA(100000)
	k := 33333
	dir := t.TempDir()
	p := writeFile(t, dir, "cat.fa.gz", append(quickBGZF(data[:k], 5000), quickBGZF(data[k:], 7000)...))
	want, err := readAll(writeFile(t, dir, "plain.fa", data))
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(p)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("streaming across an empty block: %v", err)
	}
	idx, err := BuildFai(p)
	if err != nil {
		t.Fatal(err)
	}
	gzi, err := BuildGzi(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteFai(p+".fai", idx); err != nil {
		t.Fatal(err)
	}
	if err := WriteGzi(p+".gzi", gzi); err != nil {
		t.Fatal(err)
	}
	checkFetchAll(t, p)
	if samtools, err := exec.LookPath("samtools"); err == nil {
		q := writeFile(t, dir, "s.fa.gz", append(quickBGZF(data[:k], 5000), quickBGZF(data[k:], 7000)...))
		if out, err := exec.Command(samtools, "faidx", q).CombinedOutput(); err != nil {
			t.Fatalf("samtools: %v %s", err, out)
		}
		for _, ext := range []string{".fai", ".gzi"} {
			a, _ := os.ReadFile(p + ext)
			b, _ := os.ReadFile(q + ext)
			if !bytes.Equal(a, b) {
				t.Errorf("%s differs from samtools'", ext)
			}
		}
	}
}
