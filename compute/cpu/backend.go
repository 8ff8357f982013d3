package cpu

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/seqdiff/seqdiff/compute"
)

// Backend implements compute.Backend on the host CPU. Kernels split their
// work over a fixed number of goroutines; the partition depends only on the
// shapes and the thread count, so the same inputs and thread count give
// bit-identical outputs. A Backend is not safe for concurrent use: kernels
// share its scratch buffers.
type Backend struct {
	threads int
	blas    sgemmer

	// Attention tiling: query rows and key columns per block. Tests shrink
	// them to exercise the multi-block paths on tiny shapes.
	attnBq, attnBk int

	rope ropeTable

	// Scratch reused across calls, grown on first use (see scratch).
	workerScratch [][]float32
	partials      []float32
	partials64    []float64
	kt            []float32 // attention forward: every head's K transposed
}

var _ compute.Backend = (*Backend)(nil)

// New returns a CPU backend using threads goroutines (0 = GOMAXPROCS, i.e.
// the cores the process may use).
// Matrix products go to OpenBLAS when the shared library is found at run
// time; otherwise to pure Go: the AVX-512 sgemm of this package when the
// binary is built with GOEXPERIMENT=simd and the CPU has AVX-512, else
// gonum's. SEQDIFF_BLAS=off (or go) skips OpenBLAS; SEQDIFF_BLAS=gonum
// forces gonum.
func New(threads int) *Backend {
	mode := blasAuto
	switch os.Getenv("SEQDIFF_BLAS") {
	case "off", "go":
		mode = blasGo
	case "gonum":
		mode = blasGonum
	}
	return newBackend(threads, mode)
}

type blasMode int

const (
	blasAuto  blasMode = iota // OpenBLAS, else the best pure-Go one
	blasGo                    // the best pure-Go one
	blasGonum                 // gonum
)

func newBackend(threads int, mode blasMode) *Backend {
	if threads <= 0 {
		// GOMAXPROCS rather than NumCPU: since Go 1.25 it also honours a
		// container's CPU quota.
		threads = runtime.GOMAXPROCS(0)
	}
	b := &Backend{threads: threads, attnBq: 64, attnBk: 256}
	if mode == blasAuto {
		if ob, err := loadOpenBLAS(); err == nil {
			b.blas = ob
		}
	}
	if b.blas == nil && mode != blasGonum && simdGEMMAvailable() {
		b.blas = newSIMDBLAS()
	}
	if b.blas == nil {
		b.blas = gonumBLAS{}
	}
	b.workerScratch = make([][]float32, threads)
	return b
}

// Threads is the number of goroutines kernels use.
func (b *Backend) Threads() int { return b.threads }

// BLAS names the sgemm in use: "openblas <core> (<OpenBLAS config>)",
// "go-avx512" or "gonum".
func (b *Backend) BLAS() string { return b.blas.name() }

// Name describes the backend, e.g. "cpu (2 threads, blas go-avx512, simd avx512)".
func (b *Backend) Name() string {
	return fmt.Sprintf("cpu (%d threads, blas %s, simd %s)", b.threads, b.blas.name(), simdLevel())
}

// ---------------------------------------------------------------- memory

// Alloc returns n zeroed float32s.
func (b *Backend) Alloc(n int) compute.F32 { return compute.F32{Host: make([]float32, n), N: n} }

// AllocI32 returns n zeroed int32s.
func (b *Backend) AllocI32(n int) compute.I32 {
	return compute.I32{Host: make([]int32, n), N: n}
}

// Free and FreeI32 drop nothing: host memory belongs to the Go collector.
func (b *Backend) Free(t compute.F32)    {}
func (b *Backend) FreeI32(t compute.I32) {}

// Upload, Download, UploadI32 and Copy copy min(len) values; on the host
// they are plain copies, and Sync has nothing to wait for.
func (b *Backend) Upload(dst compute.F32, src []float32)   { copy(dst.Host[:dst.N], src) }
func (b *Backend) Download(dst []float32, src compute.F32) { copy(dst, src.Host[:src.N]) }
func (b *Backend) UploadI32(dst compute.I32, src []int32)  { copy(dst.Host[:dst.N], src) }
func (b *Backend) Copy(dst, src compute.F32)               { copy(dst.Host[:dst.N], src.Host[:src.N]) }
func (b *Backend) Sync() error                             { return nil }

// Zero sets t (N) to 0.
func (b *Backend) Zero(t compute.F32) {
	b.parallelRange(t.N, 1<<14, func(lo, hi int) { clear(t.Host[lo:hi]) })
}

// ---------------------------------------------------------------- threads

// Chunks per thread: work is cut into more chunks than threads and the
// chunks are handed out dynamically, so a goroutine that loses its core
// to another process (the machine is shared) delays the kernel by one
// small chunk, not by half its work.
const oversubscribe = 4

// chunks is the number of contiguous chunks [c*n/k, (c+1)*n/k) that n
// items are cut into: at most oversubscribe*threads, each of at least
// minChunk items where possible. It depends only on n, minChunk and the
// thread count, so per-chunk partial sums added in chunk order are
// deterministic.
func (b *Backend) chunks(n, minChunk int) int {
	if minChunk < 1 {
		minChunk = 1
	}
	k := (n + minChunk - 1) / minChunk
	k = min(k, oversubscribe*b.threads)
	return max(k, 1)
}

// parallelRange runs fn over the chunks of [0,n) (see chunks) on up to
// b.threads goroutines; the calling goroutine is one of them.
func (b *Backend) parallelRange(n, minChunk int, fn func(lo, hi int)) {
	b.parallelChunks(n, minChunk, func(_, lo, hi int) { fn(lo, hi) })
}

// parallelChunks is parallelRange that also passes the chunk index (for
// per-chunk partial sums, summed afterwards in chunk order). It returns
// the number of chunks.
func (b *Backend) parallelChunks(n, minChunk int, fn func(chunk, lo, hi int)) int {
	if n <= 0 {
		return 0
	}
	k := b.chunks(n, minChunk)
	b.parallelItems(k, func(_, c int) { fn(c, c*n/k, (c+1)*n/k) })
	return k
}

// parallelItems hands items 0..n-1 to b.threads workers dynamically. Each
// item must write only memory no other item writes, so the result does not
// depend on which worker ran it. worker indexes per-worker scratch.
func (b *Backend) parallelItems(n int, fn func(worker, item int)) {
	if n <= 0 {
		return
	}
	w := b.threads
	if w > n {
		w = n
	}
	if w == 1 {
		for i := 0; i < n; i++ {
			fn(0, i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	run := func(worker int) {
		for {
			i := int(next.Add(1) - 1)
			if i >= n {
				return
			}
			fn(worker, i)
		}
	}
	wg.Add(w - 1)
	for k := 1; k < w; k++ {
		go func(k int) {
			defer wg.Done()
			run(k)
		}(k)
	}
	run(0)
	wg.Wait()
}

// scratch returns worker w's scratch buffer of at least n floats, grown
// (never shrunk) on demand; contents are undefined.
func (b *Backend) scratch(w, n int) []float32 {
	if cap(b.workerScratch[w]) < n {
		b.workerScratch[w] = make([]float32, n)
	}
	return b.workerScratch[w][:n]
}

// partialBuf returns a shared buffer of n floats, zeroed.
func (b *Backend) partialBuf(n int) []float32 {
	if cap(b.partials) < n {
		b.partials = make([]float32, n)
	}
	p := b.partials[:n]
	clear(p)
	return p
}
