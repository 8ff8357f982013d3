package genome

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
)

// Indexed reads slices of the records of an indexed FASTA file by random
// access. It is safe for concurrent use.
type Indexed struct {
	path   string
	f      *os.File
	comp   Compression
	fai    []FaiEntry
	byName map[string]int
	gzi    []GziEntry // BGZF only, starting with {0, 0}
	size   int64      // uncompressed size of the data

	mu      sync.Mutex
	checked []bool // records whose header and end were checked against the data
	z       inflater
	cache   [2]cachedBlock // the blocks read last (BGZF)
	raw     []byte
}

type cachedBlock struct {
	coff int64
	data []byte
	size int
	ok   bool
}

// OpenIndexed opens a FASTA file for random access. It needs PATH.fai and,
// for BGZF, PATH.gzi (write them with `seqdiff index PATH`); gzip that is
// not BGZF cannot be read this way.
func OpenIndexed(path string) (*Indexed, error) {
	f, fi, err := openFile(path)
	if err != nil {
		return nil, err
	}
	x := &Indexed{path: path, f: f, size: fi.Size()}
	if err := x.init(); err != nil {
		f.Close()
		return nil, err
	}
	return x, nil
}

func (x *Indexed) init() error {
	var err error
	if x.comp, err = sniff(x.f); err != nil {
		return fmt.Errorf("read %s: %w", x.path, err)
	}
	if x.comp == Gzip {
		return &FormatError{Path: x.path, Msg: "gzip-compressed but not BGZF, so it has no random access; recompress it with bgzip: gzip -dc " + x.path + " | bgzip > NEW.fa.gz", Err: ErrNotBGZF}
	}
	if x.fai, err = ReadFai(x.path + ".fai"); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("open %s: no index %s.fai; write it with `seqdiff index %s`: %w", x.path, x.path, x.path, ErrNoIndex)
		}
		return err
	}
	if x.comp == BGZF {
		if x.gzi, err = ReadGzi(x.path + ".gzi"); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("open %s: BGZF without its block index %s.gzi; write it with `seqdiff index %s`: %w", x.path, x.path, x.path, ErrNoIndex)
			}
			return err
		}
		if x.size, err = x.bgzfSize(); err != nil {
			return err
		}
	}
	x.byName = make(map[string]int, len(x.fai))
	for i, e := range x.fai {
		x.byName[e.Name] = i
	}
	last := x.fai[len(x.fai)-1]
	if end := last.end(); end > x.size {
		return x.mismatch(last.Name, "record ends at byte %d but the data has %d bytes", end, x.size)
	}
	x.checked = make([]bool, len(x.fai))
	return nil
}

// bgzfSize walks the blocks from the last one the .gzi lists to the end of
// the file and returns the uncompressed size. It also checks that the .gzi
// entry lands on a block and that the file ends with the EOF marker.
func (x *Indexed) bgzfSize() (int64, error) {
	last := x.gzi[len(x.gzi)-1]
	coff, uoff := last.Compressed, last.Uncompressed
	sr := io.NewSectionReader(x.f, coff, 1<<62)
	var buf []byte
	lastEmpty := false
	for {
		var err error
		buf, err = readBGZFBlock(sr, buf[:0])
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, errNotBGZFBlock) && coff == last.Compressed {
				return 0, &FormatError{Path: x.path + ".gzi", Msg: fmt.Sprintf("does not match %s: no BGZF block at byte %d (rebuild it with `seqdiff index`)", x.path, coff), Err: ErrIndexMismatch}
			}
			return 0, bgzfReadErr(x.path, coff, err)
		}
		isize := int64(binary.LittleEndian.Uint32(buf[len(buf)-4:]))
		coff += int64(len(buf))
		uoff += isize
		lastEmpty = bytes.Equal(buf, bgzfEOF)
	}
	if !lastEmpty {
		return 0, &FormatError{Path: x.path, Msg: fmt.Sprintf("BGZF data ends at byte %d without the end-of-file marker block: the file is truncated", coff), Err: ErrTruncated}
	}
	return uoff, nil
}

// Path returns the path of the FASTA file.
func (x *Indexed) Path() string { return x.path }

// Names returns the record names in file order.
func (x *Indexed) Names() []string {
	out := make([]string, len(x.fai))
	for i, e := range x.fai {
		out[i] = e.Name
	}
	return out
}

// Index returns a copy of the .fai entries.
func (x *Indexed) Index() []FaiEntry { return append([]FaiEntry(nil), x.fai...) }

// Len returns the length of record name in bases.
func (x *Indexed) Len(name string) (int, error) {
	i, err := x.lookup(name)
	if err != nil {
		return 0, err
	}
	return int(x.fai[i].Length), nil
}

func (x *Indexed) lookup(name string) (int, error) {
	if i, ok := x.byName[name]; ok {
		return i, nil
	}
	msg := fmt.Sprintf("%s: no record %q", x.path, name)
	if alias, err := ResolveName(name, x.Names()); err == nil {
		msg += fmt.Sprintf(" (did you mean %q?)", alias)
	}
	return 0, fmt.Errorf("%s: %w", msg, ErrNoSuchRecord)
}

// Fetch returns bases [start, end) (0-based, half-open) of record name,
// normalised to A C G T N in a new slice. Bytes that the index says are
// sequence but are not (a stale index) are an ErrIndexMismatch error.
func (x *Indexed) Fetch(name string, start, end int) ([]byte, error) {
	i, err := x.lookup(name)
	if err != nil {
		return nil, err
	}
	e := &x.fai[i]
	if start < 0 || end < start || int64(end) > e.Length {
		return nil, fmt.Errorf("fetch %s:%d-%d from %s: record is %d bases long: %w", name, start, end, x.path, e.Length, ErrRange)
	}
	out := make([]byte, 0, end-start)
	if start == end {
		return out, nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.checked[i] {
		if err := x.check(i); err != nil {
			return nil, err
		}
		x.checked[i] = true
	}
	b0, b1 := e.offsetOf(int64(start)), e.offsetOf(int64(end-1))+1
	raw, err := x.readAt(b0, int(b1-b0))
	if err != nil {
		return nil, err
	}
	// Walk the lines: bases, then the line end the index implies.
	lb, lw := int64(e.LineBases), int64(e.LineWidth)
	col := (b0 - e.Offset) % lw
	for p := 0; p < len(raw); {
		n := min(int(lb-col), len(raw)-p)
		seg := raw[p : p+n]
		if j := Normalise(seg); j >= 0 {
			return nil, x.mismatch(name, "byte %d (%s) lies where the index puts base %d", b0+int64(p+j), describeByte(seg[j]), int64(start)+int64(len(out)+j))
		}
		out = append(out, seg...)
		p += n
		if p == len(raw) {
			break
		}
		// line end: "\n" or "\r\n"
		for k := lb; k < lw; k++ {
			want := byte('\n')
			if k < lw-1 {
				want = '\r'
			}
			if raw[p] != want {
				return nil, x.mismatch(name, "byte %d is %s where the index puts a line end", b0+int64(p), describeByte(raw[p]))
			}
			p++
		}
		col = 0
	}
	return out, nil
}

// check compares record i's header and end with the data: the line
// before the sequence must be a header naming the record, and the last
// base must end its line.
func (x *Indexed) check(i int) error {
	e := &x.fai[i]
	if e.Offset == 0 {
		return x.mismatch(e.Name, "sequence at byte 0 leaves no room for a header")
	}
	// Read back far enough to hold the header line; descriptions can be long.
	var h []byte
	for back := min(e.Offset, int64(len(e.Name))+256); ; back = min(e.Offset, 4*back) {
		b, err := x.readAt(e.Offset-back, int(back))
		if err != nil {
			return err
		}
		if b[len(b)-1] != '\n' {
			return x.mismatch(e.Name, "byte %d before the sequence is %s, not the end of a header line", e.Offset-1, describeByte(b[len(b)-1]))
		}
		if k := bytes.LastIndexByte(b[:len(b)-1], '\n'); k >= 0 {
			h = b[k+1 : len(b)-1]
			break
		}
		if back == e.Offset {
			h = b[:len(b)-1]
			break
		}
		if back > 1<<20 {
			return x.mismatch(e.Name, "no header line within 1 MiB before byte %d", e.Offset)
		}
	}
	if len(h) == 0 || h[0] != '>' {
		return x.mismatch(e.Name, "the line before byte %d is not a '>' header", e.Offset)
	}
	if name, _ := splitHeader(h[1:]); name != e.Name {
		return x.mismatch(e.Name, "the header before byte %d names %q", e.Offset, name)
	}
	end := e.end()
	b, err := x.readAt(end, int(min(2, x.size-end)))
	if err != nil {
		return err
	}
	switch {
	case len(b) == 0, b[0] == '\n', b[0] == '\r' && (len(b) == 1 || b[1] == '\n'):
		return nil
	}
	return x.mismatch(e.Name, "the record goes on past the %d bases the index gives it (byte %d is %s)", e.Length, end, describeByte(b[0]))
}

func (x *Indexed) mismatch(rec, format string, args ...any) error {
	return &FormatError{Path: x.path, Record: rec, Msg: fmt.Sprintf("does not match the index %s.fai: ", x.path) + fmt.Sprintf(format, args...) + " (rebuild it with `seqdiff index`)", Err: ErrIndexMismatch}
}

// readAt returns n bytes of the uncompressed data from offset off.
func (x *Indexed) readAt(off int64, n int) ([]byte, error) {
	if off < 0 || off+int64(n) > x.size {
		return nil, x.mismatch("", "bytes %d-%d lie outside the data (%d bytes)", off, off+int64(n), x.size)
	}
	out := make([]byte, n)
	if x.comp == Plain {
		if _, err := x.f.ReadAt(out, off); err != nil {
			return nil, fmt.Errorf("read %s: %w", x.path, err)
		}
		return out, nil
	}
	// The block holding off: the last gzi entry at or before it.
	k := sort.Search(len(x.gzi), func(k int) bool { return x.gzi[k].Uncompressed > off }) - 1
	coff, uoff := x.gzi[k].Compressed, x.gzi[k].Uncompressed
	for got := 0; got < n; {
		data, size, err := x.block(coff)
		if err != nil {
			return nil, err
		}
		if off+int64(got) < uoff+int64(len(data)) {
			got += copy(out[got:], data[off+int64(got)-uoff:])
		}
		coff += int64(size)
		uoff += int64(len(data))
	}
	return out, nil
}

// block returns the inflated block at compressed offset coff and its
// compressed size, from a two-entry cache (most recent first).
func (x *Indexed) block(coff int64) ([]byte, int, error) {
	for k := range x.cache {
		if c := x.cache[k]; c.ok && c.coff == coff {
			return c.data, c.size, nil
		}
	}
	var err error
	x.raw, err = readBGZFBlock(io.NewSectionReader(x.f, coff, 1<<16+1), x.raw[:0])
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, 0, bgzfReadErr(x.path, coff, err)
	}
	data, err := x.z.inflate(x.raw, nil, x.path, coff)
	if err != nil {
		return nil, 0, err
	}
	x.cache[1] = x.cache[0]
	x.cache[0] = cachedBlock{coff: coff, data: data, size: len(x.raw), ok: true}
	return data, len(x.raw), nil
}

// Close releases the file.
func (x *Indexed) Close() error { return x.f.Close() }
