package dataprep

import (
	"bytes"
	"context"
	"fmt"
	"math"
)

// engine cuts records into windows, tokenizes them into per-segment buffers
// and hands whole segments to the shard writers. Nothing in its inner loop
// allocates: segment buffers are recycled.
type engine struct {
	seqLen, stride int
	maxNCount      int // a window with more N than this is dropped
	sp             splitter
	blockMode      bool
	progress       func(bases int64)

	w     [numSplits]*shardWriter
	queue [numSplits][]*segBuf // block mode: the last blocks of each split, held back for the fix-up
	nBlk  [numSplits]int       // block mode: non-empty blocks per split
	free  []*segBuf
	segs  []segment

	fixups  []Fixup
	records []RecordInfo
	bases   int64
	longest RecordInfo
}

// segBuf holds the kept windows of one segment.
type segBuf struct {
	chrom string
	block int
	split Split
	data  []byte
	rows  int
	nN    int64
}

// holdBack is how many blocks per split stay in memory until the end: the
// fix-up moves at most two blocks, each the last of its donor split.
const holdBack = 2

// flushBytes bounds a segment buffer outside block mode (a BED interval or a
// whole chromosome can be large).
const flushBytes = 8 << 20

func newEngine(dir string, seqLen, stride int, maxN float64, sp splitter, shardBytes int64) *engine {
	e := &engine{seqLen: seqLen, stride: stride, sp: sp, maxNCount: maxNCountFor(maxN, seqLen)}
	_, e.blockMode = sp.(*blockSplitter)
	maxRows := max(shardBytes/int64(seqLen), 1)
	for s := range numSplits {
		e.w[s] = &shardWriter{dir: dir, split: s, seqLen: seqLen, maxRows: maxRows}
	}
	return e
}

// maxNCountFor is the largest number of N a window of seqLen may hold:
// fraction maxN of it, and never all of it.
func maxNCountFor(maxN float64, seqLen int) int {
	// The small epsilon keeps 0.5*1024 = 512 exact against rounding.
	n := int(math.Floor(maxN*float64(seqLen) + 1e-9))
	return min(n, seqLen-1)
}

func (e *engine) getBuf(seg segment, chrom string) *segBuf {
	var b *segBuf
	if n := len(e.free); n > 0 {
		b = e.free[n-1]
		e.free = e.free[:n-1]
	} else {
		b = &segBuf{}
	}
	b.chrom, b.block, b.split = chrom, seg.block, seg.split
	b.data, b.rows, b.nN = b.data[:0], 0, 0
	return b
}

func (e *engine) put(b *segBuf) { e.free = append(e.free, b) }

// record processes one FASTA record; seq holds upper-case bases.
func (e *engine) record(ctx context.Context, name string, seq []byte) error {
	e.records = append(e.records, RecordInfo{Name: name, Length: len(seq)})
	e.bases += int64(len(seq))
	if len(seq) > e.longest.Length || e.longest.Name == "" {
		e.longest = RecordInfo{Name: name, Length: len(seq)}
	}
	var err error
	e.segs, err = e.sp.segments(e.segs[:0], name, len(seq))
	if err != nil {
		return err
	}
	L, done := e.seqLen, 0
	for _, seg := range e.segs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if seg.end-seg.start >= L {
			if err := e.segment(name, seq, seg); err != nil {
				return err
			}
		}
		if e.progress != nil && seg.end > done {
			e.progress(int64(seg.end - done))
			done = seg.end
		}
	}
	if e.progress != nil && len(seq) > done {
		e.progress(int64(len(seq) - done))
	}
	return nil
}

func (e *engine) segment(name string, seq []byte, seg segment) error {
	L := e.seqLen
	b := e.getBuf(seg, name)
	for s := seg.start; s+L <= seg.end; s += e.stride {
		n := len(b.data)
		if cap(b.data)-n < L {
			b.data = append(b.data, make([]byte, L)...)[:n]
		}
		row := b.data[n : n+L]
		src := seq[s : s+L]
		var acc uint8
		for i := range row {
			id := baseID[src[i]]
			row[i] = id
			acc |= id
		}
		if acc >= DNAVocabSize {
			for i, c := range src {
				if baseID[c] == invalid {
					return fmt.Errorf("record %s: position %d: invalid base %q", name, s+i+1, c)
				}
			}
		}
		nN := bytes.Count(row, nID)
		if nN > e.maxNCount {
			continue
		}
		b.data = b.data[:n+L]
		b.rows++
		b.nN += int64(nN)
		if !e.blockMode && len(b.data) >= flushBytes {
			if err := e.w[b.split].write(b.data, b.rows, b.nN); err != nil {
				return err
			}
			b.data, b.rows, b.nN = b.data[:0], 0, 0
		}
	}
	return e.finishSegment(b)
}

var nID = []byte{N}

func (e *engine) finishSegment(b *segBuf) error {
	if b.rows == 0 {
		e.put(b)
		return nil
	}
	if !e.blockMode {
		err := e.w[b.split].write(b.data, b.rows, b.nN)
		e.put(b)
		return err
	}
	s := b.split
	e.nBlk[s]++
	e.queue[s] = append(e.queue[s], b)
	if len(e.queue[s]) > holdBack {
		old := e.queue[s][0]
		copy(e.queue[s], e.queue[s][1:])
		e.queue[s] = e.queue[s][:len(e.queue[s])-1]
		err := e.w[s].write(old.data, old.rows, old.nN)
		e.put(old)
		return err
	}
	return nil
}

// fixup gives every empty split the last block of the split holding the most
// blocks, when there are at least three non-empty blocks in all.
func (e *engine) fixup() {
	total := e.nBlk[Train] + e.nBlk[Valid] + e.nBlk[Test]
	if total < 3 {
		return
	}
	for to := range numSplits {
		if e.nBlk[to] > 0 {
			continue
		}
		from := Train
		for s := range numSplits {
			if e.nBlk[s] > e.nBlk[from] {
				from = s
			}
		}
		q := e.queue[from]
		b := q[len(q)-1]
		e.queue[from] = q[:len(q)-1]
		e.nBlk[from]--
		b.split = to
		e.queue[to] = append(e.queue[to], b)
		e.nBlk[to]++
		e.fixups = append(e.fixups, Fixup{Chrom: b.chrom, Block: b.block, From: from.String(), To: to.String()})
	}
}

// finish writes what is held back and closes the shards.
func (e *engine) finish() error {
	if e.blockMode {
		e.fixup()
		for s := range numSplits {
			for _, b := range e.queue[s] {
				if err := e.w[s].write(b.data, b.rows, b.nN); err != nil {
					return err
				}
			}
			e.queue[s] = nil
		}
	}
	for _, w := range e.w {
		if err := w.closeShard(); err != nil {
			return err
		}
	}
	return e.sp.finish()
}

func (e *engine) abort() {
	for _, w := range e.w {
		w.abort()
	}
}
