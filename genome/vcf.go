package genome

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// VCFRecord is one data line of a VCF file: the fixed columns a variant
// scorer needs. Ref and Alts are as written in the file (AlleleKind and
// NormaliseAllele read them); Line is the record's 1-based line in the
// uncompressed file, for messages about it.
type VCFRecord struct {
	Chrom string
	Pos   int // 1-based; 0 is the telomere before the first base
	ID    string
	Ref   string
	Alts  []string
	Line  int
}

// AlleleKind is what an ALT allele of a VCF record holds.
type AlleleKind int

const (
	AlleleSeq      AlleleKind = iota // bases: A C G T N (any case; IUPAC codes read as N)
	AlleleMissing                    // '.': no alternate allele
	AlleleStar                       // '*': the allele is deleted by an overlapping variant
	AlleleSymbolic                   // <ID>, such as <DEL> or <INS:ME>
	AlleleBreakend                   // a breakend: t[p[, t]p], ]p]t, [p[t, .t or t.
)

func (k AlleleKind) String() string {
	switch k {
	case AlleleSeq:
		return "sequence"
	case AlleleMissing:
		return "missing"
	case AlleleStar:
		return "star"
	case AlleleSymbolic:
		return "symbolic"
	case AlleleBreakend:
		return "breakend"
	}
	return fmt.Sprintf("AlleleKind(%d)", int(k))
}

// vcfFixed are the columns every #CHROM header line starts with.
var vcfFixed = [8]string{"#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"}

// VCFMaxPos is the largest POS a VCF may hold (the format's 32-bit
// signed positions).
const VCFMaxPos = 1<<31 - 1

// VCFReader streams the records of a VCF file (plain, gzip or BGZF).
// OpenVCF reads the header; Next returns the records one at a time.
type VCFReader struct {
	path    string
	src     source
	sc      *bufio.Scanner
	line    int
	cols    int // columns of the #CHROM line, which every record must have
	meta    []string
	samples []string
	err     error
}

// OpenVCF opens a VCF file and reads its header: any number of "##" meta
// lines, then the "#CHROM" line, which must be tab-separated and name the
// eight fixed columns (#CHROM POS ID REF ALT QUAL FILTER INFO), then
// optionally FORMAT and the sample names. Every record must have as many
// columns as that line.
func OpenVCF(path string) (*VCFReader, error) {
	f, _, err := openFile(path)
	if err != nil {
		return nil, err
	}
	_, src, err := sniffSource(f, path)
	if err != nil {
		return nil, err
	}
	r := &VCFReader{path: path, src: src}
	in := &errReader{r: &sourceReader{src: src}}
	r.sc = bufio.NewScanner(in)
	r.sc.Buffer(make([]byte, 64<<10), 16<<20)
	r.sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		// bufio.Scanner hands out the bytes before a read error as a last
		// line: a line cut by a truncated file must not parse as a record.
		if atEOF && in.err != nil && bytes.IndexByte(data, '\n') < 0 {
			return 0, nil, in.err
		}
		return bufio.ScanLines(data, atEOF)
	})
	if err := r.header(); err != nil {
		src.close()
		return nil, err
	}
	return r, nil
}

// Path returns the file's path.
func (r *VCFReader) Path() string { return r.path }

// Meta returns the "##" meta lines of the header, without the "##".
func (r *VCFReader) Meta() []string { return r.meta }

// Samples returns the sample names of the #CHROM line (none for a sites-only
// file).
func (r *VCFReader) Samples() []string { return r.samples }

// Close releases the file.
func (r *VCFReader) Close() error { return r.src.close() }

func (r *VCFReader) bad(format string, args ...any) error {
	return formatErr(ErrBadVCF, r.path, "", r.line, format, args...)
}

// scan reads the next line (without its line end) into text; ok is false
// at the end of the file or on an error (r.err).
func (r *VCFReader) scan() (text string, ok bool) {
	if !r.sc.Scan() {
		if err := r.sc.Err(); err != nil {
			r.err = r.readErr(err)
		}
		return "", false
	}
	r.line++
	text = strings.TrimSuffix(r.sc.Text(), "\r")
	if r.line == 1 {
		text = strings.TrimPrefix(text, "\ufeff") // a UTF-8 byte order mark
	}
	return text, true
}

// readErr places an error of the byte stream at the line being read.
func (r *VCFReader) readErr(err error) error {
	var fe *FormatError
	if errors.As(err, &fe) {
		if fe.Line == 0 {
			c := *fe
			c.Line = r.line + 1
			return &c
		}
		return err
	}
	if errors.Is(err, bufio.ErrTooLong) {
		return formatErr(ErrBadVCF, r.path, "", r.line+1, "line longer than 16 MiB")
	}
	return fmt.Errorf("read %s: line %d: %w", r.path, r.line+1, err)
}

func (r *VCFReader) header() error {
	for {
		text, ok := r.scan()
		if !ok {
			switch {
			case r.err != nil:
				return r.err
			case r.line == 0:
				return formatErr(ErrEmptyFile, r.path, "", 0, "empty file: no VCF header")
			}
			return formatErr(ErrBadVCF, r.path, "", 0, "no #CHROM header line in its %d line(s); is this a VCF file?", r.line)
		}
		switch {
		case strings.HasPrefix(text, "##"):
			r.meta = append(r.meta, text[2:])
			continue
		case strings.HasPrefix(text, "#CHROM"):
			return r.chromLine(text)
		case isBlank(text):
			continue
		case strings.HasPrefix(text, "#"):
			return r.bad("header line %q is neither a ## meta line nor the #CHROM line", clip(text))
		}
		return r.bad("record before the #CHROM header line (line starts with %s); is this a VCF file?", describeLineStart(text))
	}
}

func (r *VCFReader) chromLine(text string) error {
	cols := strings.Split(text, "\t")
	if len(cols) < len(vcfFixed) {
		if f := strings.Fields(text); len(f) >= len(vcfFixed) && f[len(vcfFixed)-1] == "INFO" {
			return r.bad("the #CHROM line is separated by spaces; VCF columns are separated by tabs")
		}
		return r.bad("the #CHROM line has %d column(s); want %s", len(cols), strings.Join(vcfFixed[:], " "))
	}
	for i, want := range vcfFixed {
		if cols[i] != want {
			return r.bad("column %d of the #CHROM line is %q, want %q (the fixed columns are %s)", i+1, clip(cols[i]), want, strings.Join(vcfFixed[:], " "))
		}
	}
	if len(cols) > len(vcfFixed) {
		if cols[8] != "FORMAT" {
			return r.bad("column 9 of the #CHROM line is %q, want \"FORMAT\" before the sample names", clip(cols[8]))
		}
		r.samples = cols[9:]
		for i, s := range r.samples {
			if s == "" {
				return r.bad("sample %d of the #CHROM line has an empty name", i+1)
			}
		}
	}
	r.cols = len(cols)
	return nil
}

// Next returns the next record, or io.EOF after the last one. Blank lines
// are skipped. Any other error is final and names the file and the line.
func (r *VCFReader) Next() (VCFRecord, error) {
	if r.err != nil {
		return VCFRecord{}, r.err
	}
	for {
		text, ok := r.scan()
		if !ok {
			if r.err == nil {
				r.err = io.EOF
			}
			return VCFRecord{}, r.err
		}
		if isBlank(text) {
			continue
		}
		rec, err := r.parse(text)
		if err != nil {
			r.err = err
		}
		return rec, err
	}
}

func (r *VCFReader) parse(text string) (VCFRecord, error) {
	if strings.HasPrefix(text, "#") {
		return VCFRecord{}, r.bad("header line after the #CHROM line (line starts with %q)", clip(text))
	}
	// Only the first eight columns are looked at; the rest are counted.
	var cols [8]string
	n, rest := 0, text
	for n < len(cols) {
		i := strings.IndexByte(rest, '\t')
		if i < 0 {
			cols[n] = rest
			n++
			rest = ""
			break
		}
		cols[n], rest = rest[:i], rest[i+1:]
		n++
		if n == len(cols) {
			n += 1 + strings.Count(rest, "\t")
			break
		}
	}
	if n != r.cols {
		hint := ""
		if n < r.cols && strings.ContainsRune(text, ' ') {
			hint = " (VCF columns are separated by tabs, not spaces)"
		}
		return VCFRecord{}, r.bad("%d column(s); the #CHROM line has %d%s", n, r.cols, hint)
	}
	rec := VCFRecord{Chrom: cols[0], ID: cols[2], Ref: cols[3], Line: r.line}
	if rec.Chrom == "" {
		return rec, r.bad("empty CHROM")
	}
	if i := strings.IndexFunc(rec.Chrom, isSpace); i >= 0 {
		return rec, r.bad("CHROM %q holds white space", clip(rec.Chrom))
	}
	pos := cols[1]
	if pos == "" {
		return rec, r.bad("empty POS")
	}
	for i := 0; i < len(pos); i++ {
		if pos[i] < '0' || pos[i] > '9' {
			return rec, r.bad("POS %q is not a non-negative integer", clip(pos))
		}
	}
	p, err := strconv.Atoi(pos)
	if err != nil || p > VCFMaxPos {
		return rec, r.bad("POS %s is past the largest position a VCF holds (%d)", clip(pos), VCFMaxPos)
	}
	rec.Pos = p
	if rec.ID == "" {
		return rec, r.bad("empty ID (a missing ID is written '.')")
	}
	if rec.Ref == "" {
		return rec, r.bad("empty REF")
	}
	if i := badBase(rec.Ref); i >= 0 {
		return rec, r.bad("REF %q: %s at position %d is not a base (A C G T N, or an IUPAC code)", clip(rec.Ref), describeByte(rec.Ref[i]), i+1)
	}
	alt := cols[4]
	if alt == "" {
		return rec, r.bad("empty ALT (no alternate allele is written '.')")
	}
	rec.Alts = strings.Split(alt, ",")
	for i, a := range rec.Alts {
		if _, err := ParseAllele(a); err != nil {
			return rec, r.bad("ALT %q: allele %d: %v", clip(alt), i+1, err)
		}
	}
	if len(rec.Alts) > 1 {
		for _, a := range rec.Alts {
			if a == "." {
				return rec, r.bad("ALT %q: '.' (no alternate allele) among other alleles", clip(alt))
			}
		}
	}
	return rec, nil
}

// ParseAllele tells what an ALT allele holds, or why it is not one.
func ParseAllele(a string) (AlleleKind, error) {
	switch {
	case a == "":
		return 0, errors.New("empty allele")
	case a == ".":
		return AlleleMissing, nil
	case a == "*":
		return AlleleStar, nil
	case a[0] == '<':
		if len(a) < 3 || a[len(a)-1] != '>' || strings.ContainsAny(a[1:len(a)-1], "<>,") || strings.IndexFunc(a, isSpace) >= 0 {
			return 0, fmt.Errorf("symbolic allele %q is not of the form <ID>", clip(a))
		}
		return AlleleSymbolic, nil
	case strings.ContainsAny(a, "[]"):
		if isBreakend(a) {
			return AlleleBreakend, nil
		}
		return 0, fmt.Errorf("%q is not a breakend (t[p[, t]p], ]p]t or [p[t)", clip(a))
	case len(a) > 1 && (a[0] == '.' || a[len(a)-1] == '.'):
		if badBase(strings.Trim(a, ".")) < 0 && strings.Count(a, ".") == 1 {
			return AlleleBreakend, nil // a single breakend: .t or t.
		}
	}
	if i := badBase(a); i >= 0 {
		return 0, fmt.Errorf("%s at position %d is not a base (A C G T N, or an IUPAC code)", describeByte(a[i]), i+1)
	}
	return AlleleSeq, nil
}

// isBreakend reports whether a is a mated breakend: t[p[, t]p], ]p]t or
// [p[t, where t is one or more bases and p a non-empty chrom:pos.
func isBreakend(a string) bool {
	var br byte
	i := strings.IndexAny(a, "[]")
	br = a[i]
	j := strings.IndexByte(a[i+1:], br)
	if j < 0 {
		return false
	}
	j += i + 1
	p := a[i+1 : j]
	t := a[:i] + a[j+1:]
	if strings.ContainsAny(p, "[]") || !strings.Contains(p, ":") || strings.IndexFunc(p, isSpace) >= 0 {
		return false
	}
	if (i == 0) == (j == len(a)-1) { // bases on exactly one side
		return false
	}
	return t != "" && badBase(t) < 0
}

// NormaliseAllele returns a sequence allele as the bases a genome holds:
// upper case, IUPAC codes as N.
func NormaliseAllele(a string) string {
	b := []byte(a)
	if Normalise(b) >= 0 {
		return a
	}
	return string(b)
}

// errReader remembers the first error of r other than io.EOF.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// ReadVCF reads every record of a VCF file.
func ReadVCF(path string) ([]VCFRecord, error) {
	r, err := OpenVCF(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []VCFRecord
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
}

// badBase is the index of the first byte of s that is not a base letter
// (A C G T N or an IUPAC code, any case), or -1.
func badBase(s string) int {
	for i := 0; i < len(s); i++ {
		if norm[s[i]] == bad {
			return i
		}
	}
	return -1
}

func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f'
}

func isBlank(s string) bool { return strings.TrimLeft(s, " \t\v\f") == "" }

// clip shortens s for a message.
func clip(s string) string {
	const max = 40
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// describeLineStart names a line's first byte for a message.
func describeLineStart(s string) string {
	if s == "" {
		return "nothing"
	}
	return describeByte(s[0])
}
