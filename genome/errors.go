package genome

import (
	"errors"
	"fmt"
)

// Sentinel errors; a *FormatError wraps one of them so callers can test the
// kind of problem with errors.Is.
var (
	ErrEmptyFile      = errors.New("empty file")
	ErrNoHeader       = errors.New("sequence before the first '>' header")
	ErrEmptyRecord    = errors.New("record has no sequence")
	ErrEmptyName      = errors.New("record has no name")
	ErrDuplicateName  = errors.New("duplicate record name")
	ErrBadByte        = errors.New("invalid byte in sequence")
	ErrTruncated      = errors.New("truncated compressed data")
	ErrCorrupt        = errors.New("corrupt compressed data")
	ErrIndexMismatch  = errors.New("index does not match the file")
	ErrBadIndex       = errors.New("malformed index")
	ErrNotIndexable   = errors.New("file cannot be indexed")
	ErrNotBGZF        = errors.New("gzip file is not BGZF; recompress it with bgzip")
	ErrNoIndex        = errors.New("index file missing")
	ErrBadBED         = errors.New("malformed BED line")
	ErrBadVCF         = errors.New("malformed VCF line")
	ErrNoSuchRecord   = errors.New("no such record")
	ErrAmbiguousName  = errors.New("ambiguous record name")
	ErrRange          = errors.New("range out of bounds")
	ErrNotRegularFile = errors.New("not a regular file")
)

// FormatError reports bad input at a place in a file. Line is 1-based and
// counts lines of the uncompressed text; 0 means the problem concerns the
// file as a whole. Record is the FASTA record (or BED chrom) concerned, or "".
type FormatError struct {
	Path   string
	Record string
	Line   int
	Msg    string
	// Err is the sentinel kind (ErrBadByte, ErrTruncated, ...), for errors.Is.
	Err error
}

// Error formats as "PATH:LINE: record NAME: MSG", leaving out the parts that
// are unknown.
func (e *FormatError) Error() string {
	s := e.Path
	if e.Line > 0 {
		s += fmt.Sprintf(":%d", e.Line)
	}
	if e.Record != "" {
		s += fmt.Sprintf(": record %s", e.Record)
	}
	return s + ": " + e.Msg
}

// Unwrap returns the sentinel kind.
func (e *FormatError) Unwrap() error { return e.Err }

func formatErr(kind error, path, record string, line int, format string, args ...any) *FormatError {
	return &FormatError{Path: path, Record: record, Line: line, Msg: fmt.Sprintf(format, args...), Err: kind}
}

// describeByte renders a byte for an error message: 'x' when printable
// ASCII, else its hex value.
func describeByte(c byte) string {
	if c >= 0x21 && c < 0x7f {
		return fmt.Sprintf("'%c'", c)
	}
	switch c {
	case ' ':
		return "space"
	case '\t':
		return "tab"
	case '\r':
		return "carriage return"
	}
	return fmt.Sprintf("byte 0x%02X", c)
}
