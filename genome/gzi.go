package genome

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/seqdiff/seqdiff/internal/atomicfile"
)

// GziEntry maps the start of a BGZF block: its offset in the compressed
// file and the offset of its first byte in the uncompressed data.
type GziEntry struct {
	Compressed, Uncompressed int64
}

// ReadGzi reads a bgzip .gzi index: a little-endian uint64 count, then that
// many (compressed, uncompressed) uint64 pairs, one per block after the
// first. The returned slice starts with the implicit {0, 0}.
func ReadGzi(path string) ([]GziEntry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 8 {
		return nil, formatErr(ErrBadIndex, path, "", 0, "malformed .gzi: %d bytes, too short", len(b))
	}
	n := binary.LittleEndian.Uint64(b)
	if uint64(len(b)-8)/16 != n || (len(b)-8)%16 != 0 {
		return nil, formatErr(ErrBadIndex, path, "", 0, "malformed .gzi: says %d blocks in %d bytes", n, len(b))
	}
	idx := make([]GziEntry, 1, n+1)
	for i := range int(n) {
		p := b[8+16*i:]
		e := GziEntry{int64(binary.LittleEndian.Uint64(p)), int64(binary.LittleEndian.Uint64(p[8:]))}
		last := idx[len(idx)-1]
		if e.Compressed <= last.Compressed || e.Uncompressed < last.Uncompressed {
			return nil, formatErr(ErrBadIndex, path, "", 0, "malformed .gzi: entry %d (%d, %d) is not after (%d, %d)", i+1, e.Compressed, e.Uncompressed, last.Compressed, last.Uncompressed)
		}
		idx = append(idx, e)
	}
	return idx, nil
}

// BuildGzi scans the block headers of a BGZF file (without inflating) and
// returns its block index, starting with {0, 0}, as samtools faidx and
// bgzip -r write it: one entry per non-empty block. (bgzip -i, indexing
// while compressing, also lists the empty end-of-file block; ReadGzi and
// OpenIndexed take either.)
func BuildGzi(path string) ([]GziEntry, error) {
	f, _, err := openFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if c, err := sniff(f); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	} else if c != BGZF {
		return nil, &FormatError{Path: path, Msg: fmt.Sprintf("%s, not BGZF: no .gzi to build", c), Err: ErrNotBGZF}
	}
	br := bufio.NewReaderSize(f, 1<<20)
	idx := []GziEntry{{0, 0}}
	var coff, uoff int64
	var buf []byte
	lastEmpty := false
	for {
		buf, err = readBGZFBlock(br, buf[:0])
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, bgzfReadErr(path, coff, err)
		}
		isize := int64(binary.LittleEndian.Uint32(buf[len(buf)-4:]))
		if isize > 0 && coff > 0 {
			idx = append(idx, GziEntry{coff, uoff})
		}
		coff += int64(len(buf))
		uoff += isize
		lastEmpty = bytes.Equal(buf, bgzfEOF)
	}
	if !lastEmpty {
		return nil, &FormatError{Path: path, Msg: fmt.Sprintf("BGZF data ends at byte %d without the end-of-file marker block: the file is truncated", coff), Err: ErrTruncated}
	}
	return idx, nil
}

// WriteGzi writes a block index (as from BuildGzi, starting with {0, 0})
// to path in the bgzip .gzi format, atomically.
func WriteGzi(path string, idx []GziEntry) error {
	if len(idx) == 0 || idx[0] != (GziEntry{}) {
		return fmt.Errorf("write %s: block index must start with {0, 0}", path)
	}
	b := make([]byte, 8, 8+16*(len(idx)-1))
	binary.LittleEndian.PutUint64(b, uint64(len(idx)-1))
	for _, e := range idx[1:] {
		b = binary.LittleEndian.AppendUint64(b, uint64(e.Compressed))
		b = binary.LittleEndian.AppendUint64(b, uint64(e.Uncompressed))
	}
	return atomicfile.WriteFile(path, b)
}
