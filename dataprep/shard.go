package dataprep

import (
	"fmt"
	"os"
	"path/filepath"
)

// DefaultShardBytes is the largest shard file prep writes (256 MiB), rounded
// down to whole rows.
const DefaultShardBytes = 256 << 20

// ShardName is the file name of shard i of split s: train-00000.bin, ….
func ShardName(s Split, i int) string { return fmt.Sprintf("%s-%05d.bin", s, i) }

// shardWriter appends rows of one split to numbered shard files with large
// direct writes (the callers hand it whole segments), fsyncing each file as
// it is closed.
type shardWriter struct {
	dir      string
	split    Split
	seqLen   int
	elemSize int // bytes per token id; 0 means 1 (uint8)
	maxRows  int64

	f       *os.File
	cur     Shard
	shards  []Shard
	windows int64
	nN      int64
}

func (w *shardWriter) write(data []byte, rows int, nN int64) error {
	L := w.rowBytes()
	if len(data) != rows*L {
		return fmt.Errorf("internal error: %d bytes for %d rows of %d", len(data), rows, L)
	}
	w.windows += int64(rows)
	w.nN += nN
	for len(data) > 0 {
		if w.f == nil {
			name := ShardName(w.split, len(w.shards))
			f, err := os.Create(filepath.Join(w.dir, name))
			if err != nil {
				return err
			}
			w.f, w.cur = f, Shard{File: name}
		}
		n := min(w.maxRows-w.cur.Rows, int64(len(data)/L))
		if _, err := w.f.Write(data[:n*int64(L)]); err != nil {
			return err
		}
		data = data[n*int64(L):]
		w.cur.Rows += n
		w.cur.Bytes += n * int64(L)
		if w.cur.Rows == w.maxRows {
			if err := w.closeShard(); err != nil {
				return err
			}
		}
	}
	return nil
}

// rowBytes is the size of one row in the shard files.
func (w *shardWriter) rowBytes() int { return w.seqLen * max(w.elemSize, 1) }

func (w *shardWriter) closeShard() error {
	if w.f == nil {
		return nil
	}
	f := w.f
	w.f = nil
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	w.shards = append(w.shards, w.cur)
	return nil
}

// abort closes an open shard without syncing (its directory is about to be
// removed).
func (w *shardWriter) abort() {
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
}

func (w *shardWriter) info() *SplitInfo {
	si := &SplitInfo{Windows: w.windows, Tokens: w.windows * int64(w.seqLen), Shards: w.shards}
	if si.Shards == nil {
		si.Shards = []Shard{}
	}
	if si.Tokens > 0 {
		si.NFraction = float64(w.nN) / float64(si.Tokens)
	}
	return si
}
