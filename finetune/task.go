package finetune

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/genome"
)

// Example is one labelled sequence: token ids of the DNA vocabulary and a
// class index into Task.Classes.
type Example struct {
	Seq   []uint8
	Label int
}

// Task is a labelled data set with a train and a test part.
type Task struct {
	Name    string
	Source  string   // where it was read from
	Classes []string // class names; Example.Label indexes them
	Train   []Example
	Test    []Example
	// Split says how Train and Test were obtained ("given" or the rule).
	Split string
}

// TestFrac and SplitSeed are the fixed split of a task that ships as one
// file: 20% of each class to test by the hash rule of SplitIndex, seed 42.
const (
	TestFrac  = 0.2
	SplitSeed = 42
)

// LoadOptions say where a task is and how to read it.
type LoadOptions struct {
	// Path is a TSV/CSV file (plain or .gz) with a header, or a Genomic
	// Benchmarks task directory (TASK/train|test/CLASS/*.txt, or
	// TASK/train|test/CLASS.csv[.gz] coordinate files read against Genome).
	Path string
	// Test is an optional second table holding the test split of Path.
	Test string
	// SeqCol and LabelCol name the table's columns (default "seq", "label").
	SeqCol, LabelCol string
	// Genome is the FASTA that coordinate files refer to (indexed: .fai,
	// and .gzi for BGZF).
	Genome string
	// Name of the task (default: the file or directory name).
	Name string
}

// rawRow is a row before the classes are known.
type rawRow struct {
	seq   []uint8
	label string
	where string // file:line
}

// Load reads the task of o. A single table is split into train and test by
// SplitIndex(labels, TestFrac, SplitSeed) (stratified, 80/20, seed 42).
func Load(o LoadOptions) (*Task, error) {
	if o.SeqCol == "" {
		o.SeqCol = "seq"
	}
	if o.LabelCol == "" {
		o.LabelCol = "label"
	}
	st, err := os.Stat(o.Path)
	if err != nil {
		return nil, fmt.Errorf("task: %w", err)
	}
	name := o.Name
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(o.Path), ".gz")
		name = strings.TrimSuffix(strings.TrimSuffix(name, ".tsv"), ".csv")
	}
	var train, test []rawRow
	split := "given"
	switch {
	case st.IsDir():
		if train, err = readGBSplit(filepath.Join(o.Path, "train"), o.Genome); err != nil {
			return nil, err
		}
		if test, err = readGBSplit(filepath.Join(o.Path, "test"), o.Genome); err != nil {
			return nil, err
		}
	default:
		if train, err = readTable(o.Path, o.SeqCol, o.LabelCol); err != nil {
			return nil, err
		}
		if o.Test != "" {
			if test, err = readTable(o.Test, o.SeqCol, o.LabelCol); err != nil {
				return nil, err
			}
		} else {
			labels := make([]string, len(train))
			for i, r := range train {
				labels[i] = r.label
			}
			isTest := SplitIndex(labels, TestFrac, SplitSeed)
			var tr, te []rawRow
			for i, r := range train {
				if isTest[i] {
					te = append(te, r)
				} else {
					tr = append(tr, r)
				}
			}
			train, test = tr, te
			split = fmt.Sprintf("one file: stratified %g/%g by SplitIndex (FNV-1a hash of seed %d and row index, per class)",
				1-TestFrac, TestFrac, SplitSeed)
		}
	}
	return newTask(name, o.Path, train, test, split)
}

// newTask maps labels to classes: sorted numerically when every label is an
// integer, else lexically. A label seen only in test, or a single class in
// train, is an error.
func newTask(name, src string, train, test []rawRow, split string) (*Task, error) {
	if len(train) == 0 {
		return nil, fmt.Errorf("task %s: no training rows", src)
	}
	if len(test) == 0 {
		return nil, fmt.Errorf("task %s: no test rows", src)
	}
	seen := map[string]bool{}
	var classes []string
	for _, r := range train {
		if !seen[r.label] {
			seen[r.label] = true
			classes = append(classes, r.label)
		}
	}
	numeric := true
	for _, c := range classes {
		if _, err := strconv.Atoi(c); err != nil {
			numeric = false
		}
	}
	sort.Slice(classes, func(i, j int) bool {
		if numeric {
			a, _ := strconv.Atoi(classes[i])
			b, _ := strconv.Atoi(classes[j])
			return a < b
		}
		return classes[i] < classes[j]
	})
	if len(classes) < 2 {
		return nil, fmt.Errorf("task %s: the training rows hold a single class %q; classification needs two or more", src, classes[0])
	}
	idx := map[string]int{}
	for i, c := range classes {
		idx[c] = i
	}
	t := &Task{Name: name, Source: src, Classes: classes, Split: split}
	for _, r := range train {
		t.Train = append(t.Train, Example{Seq: r.seq, Label: idx[r.label]})
	}
	for _, r := range test {
		k, ok := idx[r.label]
		if !ok {
			return nil, fmt.Errorf("%s: label %q appears in test but not in train", r.where, r.label)
		}
		t.Test = append(t.Test, Example{Seq: r.seq, Label: k})
	}
	return t, nil
}

// openMaybeGzip opens path, decompressing gzip (by magic number).
func openMaybeGzip(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(f)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return struct {
			io.Reader
			io.Closer
		}{zr, f}, nil
	}
	return struct {
		io.Reader
		io.Closer
	}{br, f}, nil
}

// bomSkipper drops a leading UTF-8 byte order mark.
func bomSkipper(r io.Reader) io.Reader {
	br := bufio.NewReader(r)
	if b, _ := br.Peek(3); bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		br.Discard(3)
	}
	return br
}

// newCSV reads a table whose delimiter is a tab when the header line holds
// one, else a comma; quoted fields and CRLF line ends are handled by
// encoding/csv.
func newCSV(r io.Reader) (*csv.Reader, error) {
	br := bufio.NewReader(bomSkipper(r))
	head, err := br.Peek(br.Size())
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	}
	cr := csv.NewReader(br)
	if bytes.IndexByte(head, '\t') >= 0 {
		cr.Comma = '\t'
	}
	cr.ReuseRecord = true
	return cr, nil
}

// Row is one row of a task table as ReadTable returns it.
type Row struct {
	Seq   []uint8 // token ids of the DNA vocabulary
	Label string  // as written, surrounding spaces trimmed
	Where string  // file:line
}

// ReadTable reads a TSV or CSV table (plain or gzip) with a header naming
// seqCol and labelCol ("" means "seq" and "label") as Load reads one, and
// returns its rows in file order, neither split nor mapped to classes
// (seqdiff embed --task). Bad rows are errors naming the file and line.
func ReadTable(path, seqCol, labelCol string) ([]Row, error) {
	if seqCol == "" {
		seqCol = "seq"
	}
	if labelCol == "" {
		labelCol = "label"
	}
	raw, err := readTable(path, seqCol, labelCol)
	if err != nil {
		return nil, err
	}
	rows := make([]Row, len(raw))
	for i, r := range raw {
		rows[i] = Row{Seq: r.seq, Label: r.label, Where: r.where}
	}
	return rows, nil
}

// readTable reads a TSV or CSV table with a header naming seqCol and
// labelCol. Sequences are tokenized (upper or lower case; IUPAC codes read
// as N); bad rows are errors naming the file and line.
func readTable(path, seqCol, labelCol string) ([]rawRow, error) {
	rc, err := openMaybeGzip(path)
	if err != nil {
		return nil, fmt.Errorf("task: %w", err)
	}
	defer rc.Close()
	cr, err := newCSV(rc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: empty file, want a header naming %q and %q", path, seqCol, labelCol)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	si, li := -1, -1
	for i, h := range header {
		switch strings.TrimSpace(h) {
		case seqCol:
			si = i
		case labelCol:
			li = i
		}
	}
	if si < 0 || li < 0 {
		return nil, fmt.Errorf("%s:1: header %q lacks column %q or %q (set --seq-col/--label-col)", path, strings.Join(header, ","), seqCol, labelCol)
	}
	var rows []rawRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		line, _ := cr.FieldPos(0) // after the error check: FieldPos panics on a record that failed to parse
		where := fmt.Sprintf("%s:%d", path, line)
		if len(rec) <= max(si, li) {
			return nil, fmt.Errorf("%s: %d fields, the header has %d", where, len(rec), len(header))
		}
		seq, err := encodeSeq(rec[si])
		if err != nil {
			return nil, fmt.Errorf("%s: column %q: %w", where, seqCol, err)
		}
		label := strings.TrimSpace(rec[li])
		if label == "" {
			return nil, fmt.Errorf("%s: empty label", where)
		}
		rows = append(rows, rawRow{seq: seq, label: label, where: where})
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no rows after the header", path)
	}
	return rows, nil
}

// encodeSeq tokenizes one sequence field.
func encodeSeq(s string) ([]uint8, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty sequence")
	}
	ids := make([]uint8, len(s))
	if _, err := dataprep.EncodeBases(ids, []byte(s)); err != nil {
		return nil, err
	}
	return ids, nil
}

// readGBSplit reads one split of a Genomic Benchmarks task: either one
// folder per class holding one sequence per .txt file, or one coordinate
// file per class (CLASS.csv or CLASS.csv.gz: id,region,start,end,strand,
// 0-based half-open as pyfaidx slicing in genomic_benchmarks) read against
// the genome FASTA, reverse-complemented on the minus strand.
func readGBSplit(dir, genomePath string) ([]rawRow, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("task: %w", err)
	}
	var rows []rawRow
	var gx *genome.Indexed
	defer func() {
		if gx != nil {
			gx.Close()
		}
	}()
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if e.IsDir() {
			files, err := filepath.Glob(filepath.Join(p, "*.txt"))
			if err != nil {
				return nil, err
			}
			if len(files) == 0 {
				return nil, fmt.Errorf("%s: class folder %q holds no .txt sequence files", p, e.Name())
			}
			slices.Sort(files)
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					return nil, fmt.Errorf("task: %w", err)
				}
				seq, err := encodeSeq(string(bytes.TrimPrefix(b, []byte{0xEF, 0xBB, 0xBF})))
				if err != nil {
					return nil, fmt.Errorf("%s:1: %w", f, err)
				}
				rows = append(rows, rawRow{seq: seq, label: e.Name(), where: f})
			}
			continue
		}
		cls, ok := strings.CutSuffix(strings.TrimSuffix(e.Name(), ".gz"), ".csv")
		if !ok {
			continue
		}
		if genomePath == "" {
			return nil, fmt.Errorf("%s: coordinate file needs a genome FASTA (--genome)", p)
		}
		if gx == nil {
			if gx, err = genome.OpenIndexed(genomePath); err != nil {
				return nil, fmt.Errorf("task: %w", err)
			}
		}
		rs, err := readCoords(p, cls, gx)
		if err != nil {
			return nil, err
		}
		rows = append(rows, rs...)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no class folders of .txt files or CLASS.csv coordinate files", dir)
	}
	return rows, nil
}

// readCoords materialises a coordinate file against gx.
func readCoords(path, class string, gx *genome.Indexed) ([]rawRow, error) {
	rc, err := openMaybeGzip(path)
	if err != nil {
		return nil, fmt.Errorf("task: %w", err)
	}
	defer rc.Close()
	cr, err := newCSV(rc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	for _, k := range []string{"region", "start", "end", "strand"} {
		if _, ok := col[k]; !ok {
			return nil, fmt.Errorf("%s:1: header lacks column %q (want id,region,start,end,strand)", path, k)
		}
	}
	var rows []rawRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		line, _ := cr.FieldPos(0)
		where := fmt.Sprintf("%s:%d", path, line)
		start, err1 := strconv.Atoi(strings.TrimSpace(rec[col["start"]]))
		end, err2 := strconv.Atoi(strings.TrimSpace(rec[col["end"]]))
		if err1 != nil || err2 != nil || start < 0 || end <= start {
			return nil, fmt.Errorf("%s: bad interval %q-%q", where, rec[col["start"]], rec[col["end"]])
		}
		b, err := gx.Fetch(strings.TrimSpace(rec[col["region"]]), start, end)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		switch strings.TrimSpace(rec[col["strand"]]) {
		case "-":
			genome.ReverseComplementInPlace(b)
		case "+", ".":
		default:
			return nil, fmt.Errorf("%s: strand %q, want + or -", where, rec[col["strand"]])
		}
		seq, err := encodeSeq(string(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		rows = append(rows, rawRow{seq: seq, label: class, where: where})
	}
	return rows, nil
}
