package genome

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"runtime"
	"sync"
)

// Compression is how a file's bytes are stored.
type Compression int

const (
	Plain Compression = iota // uncompressed text
	Gzip                     // gzip, not BGZF: streams but cannot be indexed
	BGZF                     // blocked gzip (bgzip): streams in parallel and indexes
)

func (c Compression) String() string {
	switch c {
	case Plain:
		return "plain"
	case Gzip:
		return "gzip"
	case BGZF:
		return "BGZF"
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

// bgzfEOF is the empty block that ends every complete BGZF file.
var bgzfEOF = []byte{
	0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff, 0x06, 0, 0x42, 0x43,
	0x02, 0, 0x1b, 0, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0,
}

// openFile opens path for reading and rejects directories and other
// non-regular files with a clear error.
func openFile(path string) (*os.File, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		what := "is a device, pipe or socket"
		if fi.IsDir() {
			what = "is a directory"
		}
		return nil, nil, fmt.Errorf("open %s: %s: %w", path, what, ErrNotRegularFile)
	}
	return f, fi, nil
}

// sniff tells the compression from the first bytes of f.
func sniff(f io.ReaderAt) (Compression, error) {
	var h [18]byte
	n, err := f.ReadAt(h[:], 0)
	if err != nil && err != io.EOF {
		return Plain, err
	}
	if n < 2 || h[0] != 0x1f || h[1] != 0x8b {
		return Plain, nil
	}
	if n >= 12 && h[2] == 8 && h[3]&4 != 0 {
		xlen := int(binary.LittleEndian.Uint16(h[10:]))
		extra := make([]byte, xlen)
		if m, _ := f.ReadAt(extra, 12); m == xlen {
			if _, ok := bgzfBlockSize(extra); ok {
				return BGZF, nil
			}
		}
	}
	return Gzip, nil
}

// Sniff reports how the file at path is compressed, judged from its content.
func Sniff(path string) (Compression, error) {
	f, _, err := openFile(path)
	if err != nil {
		return Plain, err
	}
	defer f.Close()
	c, err := sniff(f)
	if err != nil {
		return Plain, fmt.Errorf("read %s: %w", path, err)
	}
	return c, nil
}

// bgzfBlockSize finds the BC subfield in a gzip extra field and returns the
// total block size it records.
func bgzfBlockSize(extra []byte) (int, bool) {
	for len(extra) >= 4 {
		slen := int(binary.LittleEndian.Uint16(extra[2:]))
		if len(extra) < 4+slen {
			return 0, false
		}
		if extra[0] == 'B' && extra[1] == 'C' && slen == 2 {
			return int(binary.LittleEndian.Uint16(extra[4:])) + 1, true
		}
		extra = extra[4+slen:]
	}
	return 0, false
}

// A source yields the uncompressed bytes of a file in chunks. A chunk stays
// valid until the next call to next. next returns io.EOF after the last
// chunk; any other error is final.
type source interface {
	next() ([]byte, error)
	close() error
}

// sniffSource detects f's compression and opens its source; f is closed
// when that fails. The one way FASTA, BED and VCF files are opened.
func sniffSource(f file, path string) (Compression, source, error) {
	comp, err := sniff(f)
	if err != nil {
		f.Close()
		return 0, nil, fmt.Errorf("read %s: %w", path, err)
	}
	src, err := newSource(f, comp, path)
	if err != nil {
		f.Close()
		return 0, nil, err
	}
	return comp, src, nil
}

func newSource(f file, comp Compression, path string) (source, error) {
	switch comp {
	case BGZF:
		return newBGZFSource(f, path, runtime.GOMAXPROCS(0)), nil
	case Gzip:
		zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF // the header itself is cut
			}
			return nil, gzipErr(path, err)
		}
		return newAsyncSource(zr, f, path, true, 0), nil
	}
	// Plain text: one chunk more than the file holds lets a small file be
	// read in one chunk, its end seen at once.
	size := int64(0)
	if st, ok := f.(interface{ Stat() (os.FileInfo, error) }); ok {
		if fi, err := st.Stat(); err == nil {
			size = fi.Size() + 1
		}
	} else if sz, ok := f.(interface{ Size() int64 }); ok {
		size = sz.Size() + 1
	}
	return newAsyncSource(f, f, path, false, size), nil
}

// asyncSource reads an io.Reader in a goroutine so that inflating a gzip
// stream overlaps with parsing.
type asyncSource struct {
	path   string
	file   io.Closer
	chunks chan chunk
	free   chan []byte
	stop   chan struct{}
	done   chan struct{}
	prev   []byte
	err    error
}

type chunk struct {
	b   []byte
	err error
}

const asyncChunk = 1 << 20

// newAsyncSource reads r in chunks of size bytes (at most asyncChunk; 0
// means asyncChunk).
func newAsyncSource(r io.Reader, file io.Closer, path string, gz bool, size int64) *asyncSource {
	s := &asyncSource{path: path, file: file, chunks: make(chan chunk, 2), free: make(chan []byte, 4), stop: make(chan struct{}), done: make(chan struct{})}
	if size <= 0 || size > asyncChunk {
		size = asyncChunk
	}
	go func() {
		defer close(s.done)
		defer close(s.chunks)
		made := 0
		for {
			var buf []byte
			if made < cap(s.free) && len(s.free) == 0 {
				// Buffers are made as needed: a small file needs one.
				buf = make([]byte, size)
				made++
			} else {
				select {
				case buf = <-s.free:
				case <-s.stop:
					return
				}
			}
			n := 0
			var err error
			for n < len(buf) && err == nil {
				var m int
				m, err = r.Read(buf[n:])
				n += m
			}
			if err != nil && err != io.EOF {
				err = s.wrap(err, gz)
			}
			select {
			case s.chunks <- chunk{buf[:n], err}:
			case <-s.stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return s
}

func (s *asyncSource) wrap(err error, gz bool) error {
	if !gz {
		return fmt.Errorf("read %s: %w", s.path, err)
	}
	return gzipErr(s.path, err)
}

// gzipErr turns what compress/gzip reports into a *FormatError.
func gzipErr(path string, err error) error {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &FormatError{Path: path, Msg: "gzip data ends early: the file is truncated", Err: ErrTruncated}
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader):
		return &FormatError{Path: path, Msg: "corrupt gzip data: " + err.Error(), Err: ErrCorrupt}
	}
	var ce flate.CorruptInputError
	if errors.As(err, &ce) {
		return &FormatError{Path: path, Msg: "corrupt gzip data: " + err.Error(), Err: ErrCorrupt}
	}
	return fmt.Errorf("read %s: %w", path, err)
}

func (s *asyncSource) next() ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.prev != nil {
		s.free <- s.prev[:cap(s.prev)]
		s.prev = nil
	}
	for {
		c, ok := <-s.chunks
		if !ok {
			s.err = io.EOF
			return nil, io.EOF
		}
		if len(c.b) > 0 {
			s.prev = c.b
			if c.err != nil && c.err != io.EOF {
				// Deliver the bytes now, the error on the next call.
				s.err = c.err
			}
			return c.b, nil
		}
		s.free <- c.b[:cap(c.b)]
		if c.err != nil {
			s.err = c.err
			return nil, c.err
		}
	}
}

func (s *asyncSource) close() error {
	close(s.stop)
	<-s.done
	return s.file.Close()
}

// bgzfSource inflates BGZF blocks on several goroutines and hands them out
// in file order. One goroutine cuts the compressed stream into blocks (each
// block states its own size), workers inflate them, and next waits for the
// oldest block.
type bgzfSource struct {
	path  string
	file  io.Closer
	order chan *bgzfBlock
	stop  chan struct{}
	prev  *bgzfBlock
	err   error
	pool  sync.Pool
}

type bgzfBlock struct {
	coff int64  // compressed offset of the block
	raw  []byte // the whole compressed block
	data []byte // inflated
	err  error
	done chan struct{}
}

func newBGZFSource(f io.ReadCloser, path string, workers int) *bgzfSource {
	workers = max(workers, 1)
	s := &bgzfSource{path: path, file: f, order: make(chan *bgzfBlock, 4*workers), stop: make(chan struct{})}
	work := make(chan *bgzfBlock, 4*workers)
	for range workers {
		go func() {
			var z inflater
			for b := range work {
				b.data, b.err = z.inflate(b.raw, b.data[:0], s.path, b.coff)
				close(b.done)
			}
		}()
	}
	go func() {
		defer close(s.order)
		defer close(work)
		br := bufio.NewReaderSize(f, 1<<20)
		var coff int64
		lastEmpty := false // the last block is the EOF marker, as htslib checks
		for {
			b, _ := s.pool.Get().(*bgzfBlock)
			if b == nil {
				b = &bgzfBlock{} // buffers grow to the block sizes met, then are reused
			}
			b.coff, b.err, b.done = coff, nil, make(chan struct{})
			var err error
			b.raw, err = readBGZFBlock(br, b.raw[:0])
			if err == io.EOF {
				if !lastEmpty {
					err = &FormatError{Path: path, Msg: fmt.Sprintf("BGZF data ends at byte %d without the end-of-file marker block: the file is truncated", coff), Err: ErrTruncated}
				} else {
					return
				}
			} else if err != nil {
				err = bgzfReadErr(path, coff, err)
			}
			if err != nil {
				b.err = err
				close(b.done)
				select {
				case s.order <- b:
				case <-s.stop:
				}
				return
			}
			coff += int64(len(b.raw))
			lastEmpty = bytes.Equal(b.raw, bgzfEOF)
			select {
			case s.order <- b:
			case <-s.stop:
				return
			}
			work <- b
		}
	}()
	return s
}

func bgzfReadErr(path string, coff int64, err error) error {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &FormatError{Path: path, Msg: fmt.Sprintf("BGZF block at byte %d ends early: the file is truncated", coff), Err: ErrTruncated}
	case errors.Is(err, errNotBGZFBlock):
		return &FormatError{Path: path, Msg: fmt.Sprintf("no BGZF block header at byte %d: corrupt or not BGZF", coff), Err: ErrCorrupt}
	}
	return fmt.Errorf("read %s: %w", path, err)
}

var errNotBGZFBlock = errors.New("not a BGZF block")

// readBGZFBlock appends the next whole block of br to buf. It returns
// io.EOF only at a clean end between blocks.
func readBGZFBlock(br io.Reader, buf []byte) ([]byte, error) {
	var h [12]byte
	if n, err := io.ReadFull(br, h[:]); err != nil {
		if err == io.EOF && n == 0 {
			return buf, io.EOF
		}
		return buf, io.ErrUnexpectedEOF
	}
	if h[0] != 0x1f || h[1] != 0x8b || h[2] != 8 || h[3]&4 == 0 {
		return buf, errNotBGZFBlock
	}
	xlen := int(binary.LittleEndian.Uint16(h[10:]))
	buf = append(buf, h[:]...)
	buf = grow(buf, xlen)
	if _, err := io.ReadFull(br, buf[12:12+xlen]); err != nil {
		return buf, io.ErrUnexpectedEOF
	}
	bsize, ok := bgzfBlockSize(buf[12 : 12+xlen])
	if !ok || bsize < 12+xlen+8 {
		return buf, errNotBGZFBlock
	}
	buf = grow(buf, bsize-len(buf))
	if _, err := io.ReadFull(br, buf[12+xlen:]); err != nil {
		return buf, io.ErrUnexpectedEOF
	}
	return buf, nil
}

// grow extends b by n bytes (contents of the new bytes unspecified).
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), 2*len(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

// inflater inflates single BGZF blocks, reusing its decoding tables.
type inflater struct {
	d decoder
}

// inflate decompresses the whole block raw into dst (reusing its capacity)
// and checks its length and CRC.
func (z *inflater) inflate(raw, dst []byte, path string, coff int64) ([]byte, error) {
	xlen := int(binary.LittleEndian.Uint16(raw[10:]))
	cdata := raw[12+xlen : len(raw)-8]
	crc := binary.LittleEndian.Uint32(raw[len(raw)-8:])
	isize := int(binary.LittleEndian.Uint32(raw[len(raw)-4:]))
	if isize > 1<<16 {
		return dst, &FormatError{Path: path, Msg: fmt.Sprintf("BGZF block at byte %d claims %d bytes (limit 65536): corrupt", coff, isize), Err: ErrCorrupt}
	}
	if cap(dst) < isize {
		dst = make([]byte, isize, 1<<16)
	}
	dst = dst[:isize]
	if err := z.d.inflate(dst, cdata); err != nil {
		return dst, &FormatError{Path: path, Msg: fmt.Sprintf("corrupt BGZF block at byte %d: %v", coff, err), Err: ErrCorrupt}
	}
	if crc32.ChecksumIEEE(dst) != crc {
		return dst, &FormatError{Path: path, Msg: fmt.Sprintf("corrupt BGZF block at byte %d: CRC mismatch", coff), Err: ErrCorrupt}
	}
	return dst, nil
}

func (s *bgzfSource) next() ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.prev != nil {
		s.pool.Put(s.prev)
		s.prev = nil
	}
	for {
		b, ok := <-s.order
		if !ok {
			s.err = io.EOF
			return nil, io.EOF
		}
		<-b.done
		if b.err != nil {
			s.err = b.err
			return nil, b.err
		}
		if len(b.data) == 0 {
			s.pool.Put(b)
			continue
		}
		s.prev = b
		return b.data, nil
	}
}

func (s *bgzfSource) close() error {
	close(s.stop)
	for b := range s.order {
		<-b.done
	}
	return s.file.Close()
}
