package genome

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// Interval is one BED line: 0-based, half-open [Start, End) on Chrom.
// Fields holds columns 4 and on, as strings (nil when there are none).
// Line is the interval's 1-based line in the (uncompressed) file, for
// messages about it.
type Interval struct {
	Chrom      string
	Start, End int
	Fields     []string
	Line       int
}

// Len returns End - Start.
func (iv Interval) Len() int { return iv.End - iv.Start }

// ReadBED reads a BED file (plain, gzip or BGZF). Blank lines and lines
// starting with '#', "track" or "browser" are skipped. Columns are split on
// tabs, or on runs of spaces when a line has no tab. Each interval needs
// at least chrom, start and end with 0 <= start <= end.
func ReadBED(path string) ([]Interval, error) {
	f, _, err := openFile(path)
	if err != nil {
		return nil, err
	}
	_, src, err := sniffSource(f, path)
	if err != nil {
		return nil, err
	}
	defer src.close()
	sc := bufio.NewScanner(&sourceReader{src: src})
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var out []Interval
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if line == 1 {
			text = strings.TrimPrefix(text, "\ufeff") // a UTF-8 byte order mark
		}
		if strings.TrimSpace(text) == "" || strings.HasPrefix(text, "#") || isBEDHeader(text, "track") || isBEDHeader(text, "browser") {
			continue
		}
		var cols []string
		if strings.Contains(text, "\t") {
			cols = strings.Split(text, "\t")
		} else {
			cols = strings.Fields(text)
		}
		bad := func(format string, args ...any) error {
			return formatErr(ErrBadBED, path, "", line, format, args...)
		}
		if len(cols) < 3 {
			return nil, bad("%d column(s); BED needs at least chrom, start and end", len(cols))
		}
		iv := Interval{Chrom: cols[0], Line: line}
		if iv.Chrom == "" {
			return nil, bad("empty chrom")
		}
		for k, p := range []*int{&iv.Start, &iv.End} {
			s := cols[1+k]
			n, err := strconv.Atoi(s)
			if err != nil {
				return nil, bad("%s %q is not an integer", [2]string{"start", "end"}[k], s)
			}
			if n < 0 {
				return nil, bad("%s %d is negative", [2]string{"start", "end"}[k], n)
			}
			*p = n
		}
		if iv.Start > iv.End {
			return nil, bad("start %d is after end %d", iv.Start, iv.End)
		}
		if len(cols) > 3 {
			iv.Fields = append([]string(nil), cols[3:]...)
		}
		out = append(out, iv)
	}
	if err := sc.Err(); err != nil {
		if _, ok := err.(*FormatError); ok {
			return nil, err
		}
		return nil, fmt.Errorf("read %s: line %d: %w", path, line+1, err)
	}
	return out, nil
}

func isBEDHeader(line, word string) bool {
	return strings.HasPrefix(line, word) && (len(line) == len(word) || line[len(word)] == ' ' || line[len(word)] == '\t')
}

// sourceReader adapts a source to io.Reader.
type sourceReader struct {
	src source
	buf []byte
}

func (s *sourceReader) Read(p []byte) (int, error) {
	for len(s.buf) == 0 {
		b, err := s.src.next()
		if err != nil {
			return 0, err
		}
		s.buf = b
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	return n, nil
}
