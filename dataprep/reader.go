package dataprep

import (
	"errors"
	"fmt"
	"io"
	"iter"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// Dataset is an opened prep directory whose manifest has been checked
// against its shard files.
type Dataset struct {
	Dir      string
	Manifest *Manifest
}

// Open reads dir/manifest.json and checks every shard it lists: the file
// exists and holds exactly rows*seq_len bytes, and the rows add up to the
// split's window count. Shard data is read by Split.
func Open(dir string) (*Dataset, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	L := int64(m.SeqLen)
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
			if sh.Rows < 0 || sh.Bytes != sh.Rows*L || fi.Size() != sh.Bytes {
				return nil, fmt.Errorf("prep dir %s: shard %s is %d bytes; the manifest says %d rows of %d = %d bytes (listed as %d)",
					dir, sh.File, fi.Size(), sh.Rows, L, sh.Rows*L, sh.Bytes)
			}
			rows += sh.Rows
		}
		if rows != si.Windows || si.Tokens != si.Windows*L {
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

// SplitData is one split held in memory: rows of SeqLen uint8 token ids.
type SplitData struct {
	Name   string
	SeqLen int
	data   []byte
}

// Split reads the shards of split name ("train", "valid" or "test") whole
// into memory and checks that every id is in the vocabulary.
func (d *Dataset) Split(name string) (*SplitData, error) {
	si, ok := d.Manifest.Splits[name]
	if !ok {
		return nil, fmt.Errorf("prep dir %s: no split %q", d.Dir, name)
	}
	L := d.Manifest.SeqLen
	data := make([]byte, si.Windows*int64(L))
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
		for i, id := range data[off : off+sh.Bytes] {
			if int(id) >= d.Manifest.VocabSize {
				return nil, fmt.Errorf("shard %s: row %d position %d: id %d outside the vocabulary of %d",
					path, i/L, i%L, id, d.Manifest.VocabSize)
			}
		}
		off += sh.Bytes
	}
	return &SplitData{Name: name, SeqLen: L, data: data}, nil
}

// Rows returns the number of rows.
func (s *SplitData) Rows() int { return len(s.data) / s.SeqLen }

// Row returns row i (not a copy).
func (s *SplitData) Row(i int) []byte { return s.data[i*s.SeqLen : (i+1)*s.SeqLen] }

// ReadRows copies rows start, start+1, … into dst (B*SeqLen ids, B rows) in
// order, for evaluation, and returns how many rows it copied; the rest of
// dst past the end of the split is filled with PAD, which no loss counts.
func (s *SplitData) ReadRows(dst []int32, start int) int {
	L := s.SeqLen
	B := len(dst) / L
	n := max(min(B, s.Rows()-start), 0)
	for i := range n {
		toInt32(dst[i*L:(i+1)*L], s.Row(start+i))
	}
	for i := n * L; i < len(dst); i++ {
		dst[i] = PAD
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
		toInt32(row, l.s.Row(int(l.perm[l.cur.Position])))
		if l.opts.RC && flip(l.opts.Seed, l.cur) {
			ReverseComplement(row)
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
