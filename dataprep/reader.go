package dataprep

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/seqdiff/seqdiff/vocab"
)

// Dataset is an opened prep directory whose manifest has been checked
// against its shard files.
type Dataset struct {
	Dir      string
	Manifest *Manifest
}

// Open reads dir/manifest.json and checks every shard it lists: the file
// exists and holds exactly rows*seq_len ids of the manifest's element type,
// and the rows add up to the split's window count. Shard data is read by
// Split.
func Open(dir string) (*Dataset, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	L := int64(m.SeqLen) * int64(ElementSize(m.ElementType)) // bytes per row
	for _, name := range SplitNames {
		si := m.Splits[name]
		var rows int64
		for _, sh := range si.Shards {
			if sh.File == "" || sh.File != filepath.Base(sh.File) || strings.HasPrefix(sh.File, ".") {
				return nil, fmt.Errorf("prep dir %s: %s: bad shard file name %q", dir, name, sh.File)
			}
			path := filepath.Join(dir, sh.File)
			fi, err := os.Stat(path)
			if err != nil {
				return nil, fmt.Errorf("prep dir %s: %s split: %w", dir, name, err)
			}
			// Rows is bounded by the file size before it is multiplied, so a
			// lying count cannot overflow into a match.
			if sh.Rows < 0 || sh.Rows > fi.Size()/L || sh.Bytes != sh.Rows*L || fi.Size() != sh.Bytes {
				return nil, fmt.Errorf("prep dir %s: shard %s is %d bytes; the manifest says %d rows of %d bytes = %d bytes (listed as %d)",
					dir, sh.File, fi.Size(), sh.Rows, L, sh.Rows*L, sh.Bytes)
			}
			rows += sh.Rows
		}
		if rows != si.Windows || si.Tokens != si.Windows*int64(m.SeqLen) {
			return nil, fmt.Errorf("prep dir %s: %s split: shards hold %d rows, the manifest counts %d windows and %d tokens",
				dir, name, rows, si.Windows, si.Tokens)
		}
	}
	return &Dataset{Dir: dir, Manifest: m}, nil
}

// Rows returns the number of rows (windows) of split name.
func (d *Dataset) Rows(name string) (int, error) {
	si, ok := d.Manifest.Splits[name]
	if !ok {
		return 0, fmt.Errorf("prep dir %s: no split %q", d.Dir, name)
	}
	return int(si.Windows), nil
}

// SplitData is one split held in memory: rows of SeqLen token ids of the
// manifest's element type (uint8 for DNA, uint16 or int32 for text), handed
// out as int32 ids.
type SplitData struct {
	Name      string
	SeqLen    int
	Tokenizer string // the manifest's tokenizer
	PadID     int32  // the manifest's PAD id
	elem      int    // bytes per id
	data      []byte
}

// Split reads the shards of split name ("train", "valid" or "test") whole
// into memory and checks that every id is in the vocabulary.
func (d *Dataset) Split(name string) (*SplitData, error) {
	si, ok := d.Manifest.Splits[name]
	if !ok {
		return nil, fmt.Errorf("prep dir %s: no split %q", d.Dir, name)
	}
	L := d.Manifest.SeqLen
	elem := ElementSize(d.Manifest.ElementType)
	data := make([]byte, si.Windows*int64(L)*int64(elem))
	off := int64(0)
	for _, sh := range si.Shards {
		path := filepath.Join(d.Dir, sh.File)
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("prep dir %s: %w", d.Dir, err)
		}
		_, err = io.ReadFull(f, data[off:off+sh.Bytes])
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("shard %s: %w", path, err)
		}
		if i, id := checkIDs(data[off:off+sh.Bytes], elem, d.Manifest.VocabSize); i >= 0 {
			return nil, fmt.Errorf("shard %s: row %d position %d: id %d outside the vocabulary of %d",
				path, i/L, i%L, id, d.Manifest.VocabSize)
		}
		off += sh.Bytes
	}
	return &SplitData{Name: name, SeqLen: L, Tokenizer: d.Manifest.Tokenizer, PadID: int32(d.Manifest.PadID), elem: elem, data: data}, nil
}

// checkIDs returns the index and value of the first id of b (little-endian
// ids of elem bytes) outside [0, vocab), or -1.
func checkIDs(b []byte, elem, vocab int) (int, int64) {
	switch elem {
	case 1:
		for i, id := range b {
			if int(id) >= vocab {
				return i, int64(id)
			}
		}
	case 2:
		for i := 0; i < len(b)/2; i++ {
			if id := binary.LittleEndian.Uint16(b[2*i:]); int(id) >= vocab {
				return i, int64(id)
			}
		}
	case 4:
		for i := 0; i < len(b)/4; i++ {
			if id := int32(binary.LittleEndian.Uint32(b[4*i:])); id < 0 || int(id) >= vocab {
				return i, int64(id)
			}
		}
	}
	return -1, 0
}

// Rows returns the number of rows.
func (s *SplitData) Rows() int { return len(s.data) / (s.SeqLen * s.elemSize()) }

func (s *SplitData) elemSize() int { return max(s.elem, 1) }

// Row returns the bytes of row i as stored (not a copy): for DNA (uint8)
// these are the ids; RowIDs decodes any element type.
func (s *SplitData) Row(i int) []byte {
	n := s.SeqLen * s.elemSize()
	return s.data[i*n : (i+1)*n]
}

// RowIDs writes the SeqLen ids of row i into dst as int32.
func (s *SplitData) RowIDs(dst []int32, i int) {
	row := s.Row(i)
	switch s.elemSize() {
	case 1:
		toInt32(dst, row)
	case 2:
		dst = dst[:len(row)/2]
		for j := range dst {
			dst[j] = int32(binary.LittleEndian.Uint16(row[2*j:]))
		}
	case 4:
		dst = dst[:len(row)/4]
		for j := range dst {
			dst[j] = int32(binary.LittleEndian.Uint32(row[4*j:]))
		}
	}
}

// ReadRows copies rows start, start+1, … into dst (B*SeqLen ids, B rows) in
// order, for evaluation, and returns how many rows it copied; the rest of
// dst past the end of the split is filled with the manifest's PAD id, which
// no loss counts.
func (s *SplitData) ReadRows(dst []int32, start int) int {
	L := s.SeqLen
	B := len(dst) / L
	n := max(min(B, s.Rows()-start), 0)
	for i := range n {
		s.RowIDs(dst[i*L:(i+1)*L], start+i)
	}
	for i := n * L; i < len(dst); i++ {
		dst[i] = s.PadID
	}
	return n
}

// Batches iterates over the split in order, batch rows at a time, for
// evaluation: it yields the number of real rows and a buffer of
// batch*SeqLen ids (PAD past the end of the split) that is reused between
// iterations.
func (s *SplitData) Batches(batch int) iter.Seq2[int, []int32] {
	return func(yield func(int, []int32) bool) {
		if batch < 1 {
			return
		}
		buf := make([]int32, batch*s.SeqLen)
		for start := 0; start < s.Rows(); start += batch {
			if !yield(s.ReadRows(buf, start), buf) {
				return
			}
		}
	}
}

func toInt32(dst []int32, src []byte) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = int32(v)
	}
}

// Cursor is a position in the endless stream of training rows: the epoch
// and the number of rows of that epoch already drawn. Saving it with a
// checkpoint and passing it back to NewLoader continues the stream exactly.
type Cursor struct {
	Epoch    int64 `json:"epoch"`
	Position int64 `json:"position"`
}

// LoaderOptions configure a Loader.
type LoaderOptions struct {
	Batch  int    // rows per batch
	Seed   uint64 // fixes the order of every epoch and the augmentation
	RC     bool   // reverse-complement each row with probability 1/2
	Cursor Cursor // where to start (zero: the beginning)
}

// Loader draws training batches: each epoch visits every row once in an
// order that depends only on (seed, epoch), and batches run on across epoch
// boundaries. Whether a row is reverse-complemented depends only on (seed,
// epoch, position), so a Loader started at a saved Cursor yields exactly the
// batches the first one would have.
type Loader struct {
	s    *SplitData
	opts LoaderOptions
	cur  Cursor
	perm []int32
}

// NewLoader returns a Loader over s.
func (s *SplitData) NewLoader(opts LoaderOptions) (*Loader, error) {
	n := s.Rows()
	switch {
	case n == 0:
		return nil, fmt.Errorf("split %s has no rows", s.Name)
	case opts.Batch < 1:
		return nil, fmt.Errorf("batch size %d", opts.Batch)
	case opts.RC && s.Tokenizer != "" && s.Tokenizer != vocab.DNATokenizer:
		return nil, fmt.Errorf("split %s: reverse-complement augmentation needs DNA tokens, not %s (train text with --rc=false, rc: false in YAML)", s.Name, s.Tokenizer)
	case opts.Cursor.Epoch < 0 || opts.Cursor.Position < 0 || opts.Cursor.Position > int64(n):
		return nil, fmt.Errorf("cursor %+v outside split %s of %d rows", opts.Cursor, s.Name, n)
	}
	l := &Loader{s: s, opts: opts, cur: opts.Cursor}
	l.perm = EpochOrder(n, opts.Seed, l.cur.Epoch)
	return l, nil
}

// Cursor returns the position of the next row.
func (l *Loader) Cursor() Cursor { return l.cur }

// Next fills dst, which must hold Batch*SeqLen ids, with the next batch.
func (l *Loader) Next(dst []int32) error {
	L := l.s.SeqLen
	if len(dst) != l.opts.Batch*L {
		return errors.New("loader: batch buffer is not batch*seq_len")
	}
	n := int64(l.s.Rows())
	for b := range l.opts.Batch {
		if l.cur.Position == n {
			l.cur = Cursor{Epoch: l.cur.Epoch + 1}
			l.perm = EpochOrder(int(n), l.opts.Seed, l.cur.Epoch)
		}
		row := dst[b*L : (b+1)*L]
		l.s.RowIDs(row, int(l.perm[l.cur.Position]))
		if l.opts.RC && flip(l.opts.Seed, l.cur) {
			vocab.ReverseComplement(row)
		}
		l.cur.Position++
	}
	return nil
}

// EpochOrder returns the order in which epoch visits n rows: a Fisher-Yates
// shuffle driven by PCG(seed, epoch) with its own bounded draw, so the
// order is fixed across Go versions.
func EpochOrder(n int, seed uint64, epoch int64) []int32 {
	p := make([]int32, n)
	for i := range p {
		p[i] = int32(i)
	}
	r := rand.NewPCG(seed, uint64(epoch))
	for i := n - 1; i > 0; i-- {
		j, _ := bits.Mul64(r.Uint64(), uint64(i+1)) // Lemire: uniform enough for n < 2^32
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// flip decides the reverse-complement augmentation of the row at c.
func flip(seed uint64, c Cursor) bool {
	x := seed ^ uint64(c.Epoch)*0x9e3779b97f4a7c15 ^ uint64(c.Position)*0xbf58476d1ce4e5b9
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x&1 == 1
}
