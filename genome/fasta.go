package genome

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// Record is one FASTA record; Seq holds only upper-case A, C, G, T, N.
// Each Record owns its Seq: later calls to Next do not touch it.
type Record struct {
	Name string // the header up to the first space or tab
	Desc string // the rest of the header, trimmed
	Seq  []byte
}

// Reader streams the records of a FASTA file. Sequence lines may be
// wrapped at any width or not at all and end in "\n" or "\r\n"; blank
// lines are skipped. A record's name is its header up to the first white
// space; names must be unique and every record must hold sequence.
type Reader struct {
	path string
	comp Compression
	src  source

	chunk []byte // current chunk of uncompressed text
	pos   int    // next byte of chunk to parse
	off   int64  // uncompressed offset of chunk[0]
	line  int    // 1-based line number of chunk[pos]
	col   int    // bytes of the current line before chunk[pos]
	bol   bool   // chunk[pos] starts a line
	cr    bool   // the previous chunk ended in '\r' inside a line
	eof   bool
	err   error // sticky: returned by every later call

	started bool // a header has been read
	pend    header
	hdr     []byte
	names   map[string]int // name -> line of its header

	// line geometry of the record being read, for the .fai checks
	geom geometry

	fai     []FaiEntry // from FILE.fai when present; checked as records stream
	nrec    int
	keep    bool // false when only lengths are wanted (BuildFai)
	index   bool // enforce the samtools line rules and collect entries
	built   []FaiEntry
	scratch []byte
	pendErr error  // a bad header after the record being returned
	maxSize int64  // bound on the uncompressed size, for sizing buffers
	cur     string // the record being read
}

type header struct {
	name, desc string
	line       int
	offset     int64 // uncompressed offset of the byte after the header line
}

// geometry follows the samtools rules for line lengths in a record: every
// line but the last has the same number of bytes; the last may be shorter.
type geometry struct {
	lines      int   // non-blank sequence lines seen
	bases      int64 // bases in the record so far
	lineBases  int   // bases on the first line
	lineWidth  int   // bytes on the first line, line end included
	short      int   // line number of a line shorter than the first, or 0
	shortBases int
	blank      int // line number of the first blank line in the record, or 0
	curBases   int // bases on the current line so far
}

// Open opens a FASTA file (plain, gzip or BGZF, detected from content, not
// the name). When PATH.fai exists it must match the file: each record's
// name, length, offset and first line are checked as it streams by, and
// each record's buffer is sized from it.
func Open(path string) (*Reader, error) {
	r, err := open(path, true)
	if err != nil {
		return nil, err
	}
	fai, err := ReadFai(path + ".fai")
	switch {
	case err == nil:
		r.fai = fai
	case os.IsNotExist(err):
	default:
		r.Close()
		return nil, err
	}
	return r, nil
}

func open(path string, keep bool) (*Reader, error) {
	f, fi, err := openFile(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() == 0 {
		f.Close()
		return nil, &FormatError{Path: path, Msg: "empty file: no FASTA records", Err: ErrEmptyFile}
	}
	return newReader(path, f, keep)
}

// file is what a Reader reads: an *os.File, or bytes in tests.
type file interface {
	io.Reader
	io.ReaderAt
	io.Closer
}

func newReader(path string, f file, keep bool) (*Reader, error) {
	comp, src, err := sniffSource(f, path)
	if err != nil {
		return nil, err
	}
	r := &Reader{path: path, comp: comp, src: src, line: 1, bol: true, names: map[string]int{}, keep: keep}
	// The most uncompressed bytes the file can hold: deflate expands at
	// most 1032 times.
	if sz, ok := f.(interface{ Stat() (os.FileInfo, error) }); ok {
		if fi, err := sz.Stat(); err == nil {
			r.maxSize = fi.Size()
		}
	} else if sz, ok := f.(interface{ Size() int64 }); ok {
		r.maxSize = sz.Size()
	}
	if comp != Plain {
		r.maxSize *= 1032
	}
	return r, nil
}

// Path returns the path the Reader was opened with.
func (r *Reader) Path() string { return r.path }

// Compression returns how the file is compressed.
func (r *Reader) Compression() Compression { return r.comp }

// Close releases the file and the decompression goroutines.
func (r *Reader) Close() error {
	if r.src == nil {
		return nil
	}
	err := r.src.close()
	r.src = nil
	if r.err == nil {
		r.err = fmt.Errorf("read %s: reader closed", r.path)
	}
	return err
}

// fill makes chunk[pos] valid; it sets eof at the end of the data.
func (r *Reader) fill() error {
	for r.pos >= len(r.chunk) && !r.eof {
		r.off += int64(len(r.chunk))
		c, err := r.src.next()
		if err == io.EOF {
			r.eof = true
			r.chunk, r.pos = nil, 0
			return nil
		}
		if err != nil {
			if fe, ok := err.(*FormatError); ok && fe.Line == 0 {
				// Say where the parser was when the data broke off.
				fe.Line, fe.Record = r.line, r.cur
			}
			return err
		}
		r.chunk, r.pos = c, 0
	}
	return nil
}

// Next returns the next record, or io.EOF after the last one.
func (r *Reader) Next() (Record, error) {
	if r.err != nil {
		return Record{}, r.err
	}
	rec, err := r.next()
	if err != nil {
		r.err = err
	}
	return rec, err
}

func (r *Reader) next() (Record, error) {
	if !r.started {
		if err := r.first(); err != nil {
			return Record{}, err
		}
	}
	if r.pend.name == "" { // the last record has been returned
		if r.fai != nil && r.nrec != len(r.fai) {
			return Record{}, r.mismatch(r.line, "", "the file has %d records, the index %d", r.nrec, len(r.fai))
		}
		return Record{}, io.EOF
	}
	h := r.pend
	r.pend = header{}
	r.cur = h.name
	var fe *FaiEntry
	if r.fai != nil {
		if r.nrec >= len(r.fai) {
			return Record{}, r.mismatch(h.line, h.name, "the index lists only %d records", len(r.fai))
		}
		fe = &r.fai[r.nrec]
		if fe.Name != h.name {
			return Record{}, r.mismatch(h.line, h.name, "the index names record %d %q", r.nrec+1, fe.Name)
		}
		if fe.Offset != h.offset {
			return Record{}, r.mismatch(h.line, h.name, "sequence starts at byte %d, the index says %d", h.offset, fe.Offset)
		}
	}
	var seq []byte
	switch {
	case !r.keep:
		seq = r.scratch[:0]
	case fe != nil:
		// Sized from the index, but never beyond what the file can hold,
		// whatever a corrupt index says.
		seq = make([]byte, 0, max(0, min(fe.Length, r.maxSize-h.offset)))
	default:
		seq = make([]byte, 0, 1<<12)
	}
	r.geom = geometry{}
	seq, err := r.sequence(seq, h)
	if !r.keep {
		r.scratch = seq
	}
	if err != nil {
		return Record{}, err
	}
	g := &r.geom
	if g.bases == 0 {
		return Record{}, formatErr(ErrEmptyRecord, r.path, h.name, h.line, "no sequence after the header")
	}
	if fe != nil {
		if fe.Length != g.bases {
			return Record{}, r.mismatch(h.line, h.name, "the record has %d bases, the index says %d", g.bases, fe.Length)
		}
		if fe.LineBases != g.lineBases || fe.LineWidth != g.lineWidth {
			return Record{}, r.mismatch(h.line, h.name, "the first line has %d bases in %d bytes, the index says %d in %d", g.lineBases, g.lineWidth, fe.LineBases, fe.LineWidth)
		}
	}
	if r.index {
		r.built = append(r.built, FaiEntry{Name: h.name, Length: g.bases, Offset: h.offset, LineBases: g.lineBases, LineWidth: g.lineWidth})
	}
	r.nrec++
	if err := r.pendErr; err != nil {
		// A problem in the next header; report it on the next call.
		r.pendErr = nil
		r.err = err
	}
	return Record{Name: h.name, Desc: h.desc, Seq: seq}, nil
}

func (r *Reader) mismatch(line int, rec, format string, args ...any) error {
	return &FormatError{Path: r.path, Record: rec, Line: line, Msg: fmt.Sprintf("does not match the index %s.fai: ", r.path) + fmt.Sprintf(format, args...) + " (rebuild it with `seqdiff index`)", Err: ErrIndexMismatch}
}

// first skips blank lines up to the first header.
func (r *Reader) first() error {
	r.started = true
	for {
		if err := r.fill(); err != nil {
			return err
		}
		if r.eof {
			if r.off == 0 {
				return &FormatError{Path: r.path, Msg: "empty file: no FASTA records", Err: ErrEmptyFile}
			}
			return &FormatError{Path: r.path, Msg: "no FASTA records: only blank lines", Err: ErrEmptyFile}
		}
		c := r.chunk[r.pos]
		switch {
		case c == '\n':
			r.pos++
			r.line++
		case c == '\r': // a CRLF blank line, perhaps split between chunks
			r.pos++
			if err := r.fill(); err != nil {
				return err
			}
			if !r.eof {
				if r.chunk[r.pos] != '\n' {
					return formatErr(ErrNoHeader, r.path, "", r.line, "sequence before the first '>' header (line starts with carriage return); is this a FASTA file?")
				}
				r.pos++
				r.line++
			}
		case c == '>':
			return r.header()
		default:
			if r.line == 1 && bytes.HasPrefix(r.chunk[r.pos:], []byte{0xEF, 0xBB, 0xBF}) {
				return formatErr(ErrNoHeader, r.path, "", r.line, "sequence before the first '>' header: the file starts with a UTF-8 byte order mark (EF BB BF); save it without one")
			}
			return formatErr(ErrNoHeader, r.path, "", r.line, "sequence before the first '>' header (line starts with %s); is this a FASTA file?", describeByte(c))
		}
	}
}

// header reads a header line starting at chunk[pos] == '>' into r.pend.
func (r *Reader) header() error {
	line := r.line
	r.pos++ // '>'
	r.hdr = r.hdr[:0]
	for {
		if err := r.fill(); err != nil {
			return err
		}
		if r.eof {
			break
		}
		b := r.chunk[r.pos:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			r.hdr = append(r.hdr, b[:i]...)
			r.pos += i + 1
			break
		}
		r.hdr = append(r.hdr, b...)
		r.pos = len(r.chunk)
		if len(r.hdr) > 1<<20 {
			return formatErr(ErrEmptyName, r.path, "", line, "header line longer than 1 MiB")
		}
	}
	r.line++
	r.bol = true
	name, desc := splitHeader(r.hdr)
	if name == "" {
		return formatErr(ErrEmptyName, r.path, "", line, "header '>' has no record name")
	}
	if prev, dup := r.names[name]; dup {
		return formatErr(ErrDuplicateName, r.path, name, line, "duplicate record name (first seen at line %d)", prev)
	}
	r.names[name] = line
	r.pend = header{name: name, desc: desc, line: line, offset: r.off + int64(r.pos)}
	return nil
}

// splitHeader splits a header (without '>') into the name, up to the first
// white space, and the trimmed rest, as samtools does.
func splitHeader(h []byte) (string, string) {
	h = bytes.TrimRight(h, "\r")
	h = bytes.TrimLeft(h, " \t\v\f\r")
	i := bytes.IndexAny(h, " \t\v\f\r")
	if i < 0 {
		return string(h), ""
	}
	return string(h[:i]), string(bytes.TrimSpace(h[i:]))
}

// sequence appends the normalised sequence lines of the record whose
// header is h, up to the next header or the end of the data.
func (r *Reader) sequence(seq []byte, h header) ([]byte, error) {
	g := &r.geom
	for {
		if err := r.fill(); err != nil {
			return seq, err
		}
		if r.eof {
			if r.cr || !r.bol {
				r.cr = false
				if err := r.endLine(h, true); err != nil {
					return seq, err
				}
			}
			return seq, nil
		}
		if r.bol {
			switch r.chunk[r.pos] {
			case '>':
				if err := r.header(); err != nil {
					r.pendErr = err
				}
				return seq, nil
			case '\n':
				r.pos++
				if g.blank == 0 {
					g.blank = r.line
				}
				r.line++
				continue
			}
		}
		b := r.chunk[r.pos:]
		i := bytes.IndexByte(b, '\n')
		seg := b
		if i >= 0 {
			seg = b[:i]
		}
		if r.cr { // '\r' ended the previous chunk: it must end the line
			r.cr = false
			if i != 0 {
				return seq, formatErr(ErrBadByte, r.path, h.name, r.line, "invalid byte in sequence: carriage return at column %d not followed by a line feed", r.col)
			}
		}
		if len(seg) > 0 {
			var err error
			if seq, err = r.appendBases(seq, seg, i < 0, h.name); err != nil {
				return seq, err
			}
		}
		if i >= 0 {
			r.col += i + 1
			r.pos += i + 1
			if err := r.endLine(h, false); err != nil {
				return seq, err
			}
		} else {
			r.col += len(b)
			r.pos = len(r.chunk)
			r.bol = false
		}
	}
}

// appendBases normalises the bytes seg of a sequence line onto seq; open
// says the line goes on in the next chunk. This is the hot loop: one table
// look-up per byte, with bad bytes found by OR-ing the results.
func (r *Reader) appendBases(seq, seg []byte, open bool, name string) ([]byte, error) {
	n := len(seq)
	if !r.keep {
		// Only lengths are wanted: reuse one line-sized buffer.
		n, seq = 0, seq[:0]
	}
	if cap(seq)-n < len(seg) {
		seq = grow(seq, len(seg))
	} else {
		seq = seq[:n+len(seg)]
	}
	dst := seq[n : n+len(seg)]
	var acc byte
	if !normLine(dst, seg) {
		for k, c := range seg {
			v := norm[c]
			dst[k] = v
			acc |= v
		}
	}
	added := len(seg)
	if acc&bad != 0 {
		j := firstBad(seg)
		if seg[j] != '\r' || j != len(seg)-1 {
			return seq[:n], r.badByte(name, seg[j], r.col+j+1)
		}
		// A '\r' ending the line (CRLF), or ending the chunk, in which
		// case the next chunk must start with '\n'.
		added--
		r.cr = open
	}
	seq = seq[:n+added]
	r.geom.bases += int64(added)
	r.geom.curBases += added
	if !r.keep {
		seq = seq[:0]
	}
	return seq, nil
}

// endLine closes a sequence line (atEOF: the data ended without a '\n')
// and applies the samtools rules for line lengths when indexing: all lines
// of a record have the length of the first, but the last may be shorter,
// and no blank line lies between sequence lines.
func (r *Reader) endLine(h header, atEOF bool) error {
	g := &r.geom
	width := r.col // includes the '\n'
	if atEOF {
		width++ // samtools counts the missing line end
	}
	bases := g.curBases
	line := r.line
	r.line++
	r.col = 0
	r.bol = true
	g.curBases = 0
	if bases == 0 { // a line holding only "\r"
		if g.blank == 0 {
			g.blank = line
		}
		return nil
	}
	if r.index && g.blank != 0 {
		return formatErr(ErrNotIndexable, r.path, h.name, g.blank, "blank line inside the record: cannot index it (samtools faidx refuses too); remove the blank lines")
	}
	g.lines++
	if g.lines == 1 {
		g.lineBases, g.lineWidth = bases, width
		return nil
	}
	if !r.index {
		return nil
	}
	switch {
	case g.short != 0:
		return formatErr(ErrNotIndexable, r.path, h.name, g.short, "line is shorter (%d bases) than the first line (%d) but is not the last: cannot index lines of different lengths; rewrap the file (e.g. seqkit seq -w 60)", g.shortBases, g.lineBases)
	case width > g.lineWidth || bases > g.lineBases:
		return formatErr(ErrNotIndexable, r.path, h.name, line, "line has %d bases in %d bytes, more than the record's first line (%d in %d): cannot index lines of different lengths; rewrap the file (e.g. seqkit seq -w 60)", bases, width, g.lineBases, g.lineWidth)
	case width < g.lineWidth || bases < g.lineBases:
		g.short, g.shortBases = line, bases
	}
	return nil
}

func firstBad(seg []byte) int {
	for j, c := range seg {
		if norm[c] == bad {
			return j
		}
	}
	return -1
}

func (r *Reader) badByte(rec string, c byte, col int) error {
	msg := fmt.Sprintf("invalid byte in sequence: %s at column %d (only A C G T N and the IUPAC codes R Y K M S W B D H V are allowed)", describeByte(c), col)
	switch c {
	case 'U', 'u':
		msg += "; U is RNA"
	case '>':
		msg += "; a header '>' must start a line"
	}
	return formatErr(ErrBadByte, r.path, rec, r.line, "%s", msg)
}
