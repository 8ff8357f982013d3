package genome

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/seqdiff/seqdiff/internal/atomicfile"
)

// FaiEntry is one line of a samtools .fai index: the record's name, its
// length in bases, the uncompressed byte offset of its first base, the
// bases per line and the bytes per line (line end included).
type FaiEntry struct {
	Name      string
	Length    int64
	Offset    int64
	LineBases int
	LineWidth int
}

// offsetOf returns the uncompressed byte offset of base pos of the record.
func (e *FaiEntry) offsetOf(pos int64) int64 {
	return e.Offset + pos/int64(e.LineBases)*int64(e.LineWidth) + pos%int64(e.LineBases)
}

// ReadFai reads a samtools .fai index of a FASTA file.
func ReadFai(path string) ([]FaiEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var idx []FaiEntry
	seen := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if text == "" {
			continue
		}
		fields := strings.Split(text, "\t")
		bad := func(format string, args ...any) error {
			return formatErr(ErrBadIndex, path, "", line, "malformed .fai line: "+format, args...)
		}
		if len(fields) == 6 {
			return nil, bad("6 columns: a FASTQ index; seqdiff reads FASTA")
		}
		if len(fields) != 5 {
			return nil, bad("%d tab-separated columns, want 5 (name, length, offset, line bases, line width)", len(fields))
		}
		var v [4]int64
		for i, s := range fields[1:] {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 {
				return nil, bad("column %d is %q, not a non-negative integer", i+2, s)
			}
			v[i] = n
		}
		e := FaiEntry{Name: fields[0], Length: v[0], Offset: v[1], LineBases: int(v[2]), LineWidth: int(v[3])}
		switch {
		case e.Name == "":
			return nil, bad("empty record name")
		case e.LineBases < 1 || e.Length < 1:
			return nil, bad("record %s has %d bases in lines of %d", e.Name, e.Length, e.LineBases)
		case e.LineWidth-e.LineBases != 1 && e.LineWidth-e.LineBases != 2:
			return nil, bad("record %s: lines of %d bases take %d bytes; only \\n and \\r\\n line ends are supported", e.Name, e.LineBases, e.LineWidth)
		case float64(e.Offset)+float64(e.Length)/float64(e.LineBases)*float64(e.LineWidth) >= 1<<62:
			// Byte offsets computed from it would overflow.
			return nil, bad("record %s: %d bases from byte %d would end past any file", e.Name, e.Length, e.Offset)
		}
		if prev, dup := seen[e.Name]; dup {
			return nil, formatErr(ErrBadIndex, path, e.Name, line, "duplicate record name in index (first at line %d)", prev)
		}
		seen[e.Name] = line
		if n := len(idx); n > 0 && e.Offset < idx[n-1].end() {
			return nil, formatErr(ErrBadIndex, path, e.Name, line, "offset %d overlaps the previous record (which ends at %d)", e.Offset, idx[n-1].end())
		}
		idx = append(idx, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(idx) == 0 {
		return nil, formatErr(ErrBadIndex, path, "", 0, "empty index")
	}
	return idx, nil
}

// end returns the offset just past the record's last base.
func (e *FaiEntry) end() int64 { return e.offsetOf(e.Length-1) + 1 }

// BuildFai scans a FASTA file (plain or BGZF) and returns its index, the
// same as `samtools faidx` would write. It fails where samtools does (lines
// of a record of different lengths, blank lines inside a sequence) and on
// every error the Reader reports. A gzip file that is not BGZF cannot be
// indexed.
func BuildFai(path string) ([]FaiEntry, error) {
	r, err := open(path, false)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if r.comp == Gzip {
		return nil, &FormatError{Path: path, Msg: "gzip-compressed but not BGZF, so it cannot be indexed for random access; recompress it with bgzip: gzip -dc " + path + " | bgzip > NEW.fa.gz", Err: ErrNotBGZF}
	}
	r.index = true
	for {
		_, err := r.Next()
		if err == io.EOF {
			return r.built, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// WriteFai writes idx to path in the samtools .fai format, atomically.
func WriteFai(path string, idx []FaiEntry) error {
	var b bytes.Buffer
	for _, e := range idx {
		fmt.Fprintf(&b, "%s\t%d\t%d\t%d\t%d\n", e.Name, e.Length, e.Offset, e.LineBases, e.LineWidth)
	}
	return atomicfile.WriteFile(path, b.Bytes())
}

// Index writes the samtools-compatible index of the FASTA at path:
// path.fai, and for BGZF also path.gzi unless the one there already
// matches. Both are built before either is written, so an error leaves the
// indexes as they were. It returns what `seqdiff index` reports.
func Index(path string) (string, error) {
	comp, err := Sniff(path)
	if err != nil {
		return "", err
	}
	idx, err := BuildFai(path)
	if err != nil {
		return "", err
	}
	gziNote := ""
	if comp == BGZF {
		gzi, err := BuildGzi(path)
		if err != nil {
			return "", err
		}
		if old, err := ReadGzi(path + ".gzi"); err == nil && slices.Equal(old, gzi) {
			gziNote = fmt.Sprintf("; %s.gzi present and matching (%d blocks)", path, len(gzi))
		} else {
			if err := WriteGzi(path+".gzi", gzi); err != nil {
				return "", err
			}
			gziNote = fmt.Sprintf("; wrote %s.gzi (%d blocks)", path, len(gzi))
		}
	}
	if err := WriteFai(path+".fai", idx); err != nil {
		return "", err
	}
	var bases int64
	for _, e := range idx {
		bases += e.Length
	}
	recs := "records"
	if len(idx) == 1 {
		recs = "record"
	}
	return fmt.Sprintf("wrote %s.fai: %d %s, %d bases (%s)%s", path, len(idx), recs, bases, comp, gziNote), nil
}
