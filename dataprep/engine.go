package dataprep

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/seqdiff/seqdiff/vocab"
)

// engine cuts records into windows, tokenizes them into per-chunk buffers
// on one worker goroutine per CPU and hands the chunks, in order, to the
// shard writers. Nothing in its inner loop allocates: buffers are recycled.
type engine struct {
	seqLen, stride int
	maxNCount      int // a window with more N than this is dropped
	sp             splitter
	blockMode      bool
	progress       func(bases int64)

	w     [numSplits]*shardWriter
	queue [numSplits][]*segBuf // block mode: the last blocks of each split, held back for the fix-up
	nBlk  [numSplits]int       // block mode: non-empty blocks per split
	segs  []segment

	jobs     chan job
	inflight []job
	chans    []chan *segBuf
	mu       sync.Mutex
	free     []*segBuf
	workers  sync.WaitGroup

	fixups  []Fixup
	records []RecordInfo
	bases   int64
	longest RecordInfo
}

// segBuf holds the kept windows of one chunk: a whole block in block mode,
// else at most chunkBytes of windows of a segment.
type segBuf struct {
	chrom string
	block int
	split Split
	data  []byte
	rows  int
	nN    int64
	err   error
}

// job asks a worker to tokenize windows kFrom..kTo-1 of segment seg of seq.
type job struct {
	name       string
	seq        []byte
	seg        segment
	kFrom, kTo int
	upto       int // bases of the record done once this job is written
	last       bool
	out        chan *segBuf
}

// holdBack is how many blocks per split stay in memory until the end: the
// fix-up moves at most two blocks, each the last of its donor split.
const holdBack = 2

// chunkBytes bounds a buffer outside block mode (a BED interval or a whole
// chromosome can be large).
const chunkBytes = 4 << 20

func newEngine(dir string, seqLen, stride int, maxN float64, sp splitter, shardBytes int64) *engine {
	e := &engine{seqLen: seqLen, stride: stride, sp: sp, maxNCount: maxNCountFor(maxN, seqLen)}
	_, e.blockMode = sp.(*blockSplitter)
	maxRows := max(shardBytes/int64(seqLen), 1)
	for s := range numSplits {
		e.w[s] = &shardWriter{dir: dir, split: s, seqLen: seqLen, maxRows: maxRows}
	}
	nw := runtime.GOMAXPROCS(0)
	e.jobs = make(chan job, nw)
	for range nw {
		e.workers.Add(1)
		go func() {
			defer e.workers.Done()
			for j := range e.jobs {
				j.out <- e.tokenize(j)
			}
		}()
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

func (e *engine) getBuf() *segBuf {
	e.mu.Lock()
	defer e.mu.Unlock()
	if n := len(e.free); n > 0 {
		b := e.free[n-1]
		e.free = e.free[:n-1]
		return b
	}
	return &segBuf{}
}

func (e *engine) put(b *segBuf) {
	e.mu.Lock()
	e.free = append(e.free, b)
	e.mu.Unlock()
}

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
	L := e.seqLen
	perChunk := max(chunkBytes/L, 1)
	done := 0
	for _, seg := range e.segs {
		if seg.end-seg.start < L {
			continue
		}
		nWin := (seg.end-seg.start-L)/e.stride + 1
		step := perChunk
		if e.blockMode {
			step = nWin // a block is never cut: the fix-up moves whole blocks
		}
		for k := 0; k < nWin; k += step {
			if err := ctx.Err(); err != nil {
				e.drain()
				return err
			}
			j := job{name: name, seq: seq, seg: seg, kFrom: k, kTo: min(k+step, nWin), out: e.getChan()}
			j.last = j.kTo == nWin
			j.upto = seg.start + j.kTo*e.stride
			if j.last {
				j.upto = seg.end
			}
			if err := e.submit(j, &done); err != nil {
				return err
			}
		}
	}
	if err := e.wait(0, &done); err != nil {
		return err
	}
	if e.progress != nil && len(seq) > done {
		e.progress(int64(len(seq) - done))
	}
	return nil
}

func (e *engine) getChan() chan *segBuf {
	if n := len(e.chans); n > 0 {
		c := e.chans[n-1]
		e.chans = e.chans[:n-1]
		return c
	}
	return make(chan *segBuf, 1)
}

// submit queues j for the workers, first handling finished jobs so that no
// more than a few buffers are in flight.
func (e *engine) submit(j job, done *int) error {
	if err := e.wait(2*cap(e.jobs)+1, done); err != nil {
		return err
	}
	e.inflight = append(e.inflight, j)
	e.jobs <- j
	return nil
}

// wait handles finished jobs in submission order until at most keep are in
// flight.
func (e *engine) wait(keep int, done *int) error {
	for len(e.inflight) > keep {
		j := e.inflight[0]
		e.inflight = e.inflight[1:]
		b := <-j.out
		e.chans = append(e.chans, j.out)
		if b.err != nil {
			err := b.err
			e.put(b)
			e.drain()
			return err
		}
		if err := e.finishChunk(b); err != nil {
			e.drain()
			return err
		}
		if e.progress != nil && j.upto > *done {
			e.progress(int64(j.upto - *done))
			*done = j.upto
		}
	}
	return nil
}

// drain waits for the jobs in flight and drops their output.
func (e *engine) drain() {
	for _, j := range e.inflight {
		e.put(<-j.out)
		e.chans = append(e.chans, j.out)
	}
	e.inflight = e.inflight[:0]
}

// tokenize runs on a worker: the windows of j, tokenized with the lookup
// table, those with too many N dropped.
func (e *engine) tokenize(j job) *segBuf {
	L := e.seqLen
	b := e.getBuf()
	b.chrom, b.block, b.split = j.name, j.seg.block, j.seg.split
	b.data, b.rows, b.nN, b.err = b.data[:0], 0, 0, nil
	if need := (j.kTo - j.kFrom) * L; cap(b.data) < need {
		b.data = make([]byte, 0, need)
	}
	for k := j.kFrom; k < j.kTo; k++ {
		s := j.seg.start + k*e.stride
		n := len(b.data)
		row := b.data[n : n+L]
		src := j.seq[s : s+L]
		if !encodeRow(row, src) {
			for i, c := range src {
				if baseID[c] == invalid {
					b.err = fmt.Errorf("record %s: position %d: invalid base %q", j.name, s+i+1, c)
					return b
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
	}
	return b
}

var nID = []byte{vocab.N}

func (e *engine) finishChunk(b *segBuf) error {
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

// stop ends the workers; the engine takes no more records.
func (e *engine) stop() {
	if e.jobs != nil {
		e.drain()
		close(e.jobs)
		e.workers.Wait()
		e.jobs = nil
	}
}

// finish writes what is held back and closes the shards.
func (e *engine) finish() error {
	e.stop()
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
	e.stop()
	for _, w := range e.w {
		w.abort()
	}
}
