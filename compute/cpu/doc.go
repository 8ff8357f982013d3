// Package cpu implements compute.Backend on the host CPU in float32.
//
// Construct it with New(threads); threads 0 means GOMAXPROCS. Kernels split
// their work over that many goroutines with a partition fixed by the shapes
// and the thread count, and reduce (LayerNorm dw/db, bias gradients,
// SumSquares) per fixed chunk, summing the chunks in order, so the same
// inputs and thread count give bit-identical outputs. A Backend is not safe
// for concurrent use: kernels share its scratch buffers, which are grown on
// first use and reused.
//
// # Matrix products
//
// The linear layers and the blocks inside attention are single-threaded
// sgemm calls made from the kernels' goroutines, each over work no other
// goroutine writes. At run time the backend loads OpenBLAS through purego
// (libopenblas.so.0, then the other usual names; a libblas.so.3 is accepted
// only if it exports OpenBLAS's own symbols such as openblas_get_config, so
// Debian's reference BLAS is never picked), calls its Fortran sgemm_ with
// purego.SyscallN (no cgo, no reflection), and sets it to one thread with
// openblas_set_num_threads. Without OpenBLAS it falls back to pure Go: an
// sgemm written with simd/archsimd (a 4x32 AVX-512 or 4x16 AVX2
// register-tile micro-kernel over packed panels) when built with
// GOEXPERIMENT=simd, else gonum's sgemm. On the dna-small shapes the
// AVX-512 one costs 1.3-1.6x OpenBLAS's CPU time and gonum 4-8x.
// SEQDIFF_BLAS=off (or go) skips OpenBLAS (the best pure-Go sgemm), SEQDIFF_BLAS=gonum
// forces gonum. A CGO_ENABLED=0 binary does all of this, but purego makes
// it dynamically linked against the C library (ld.so, libc, libdl); build
// with -tags noopenblas for a fully static binary without OpenBLAS
// support. Backend.BLAS and Backend.Name report what was chosen.
//
// One OpenBLAS thread per goroutine measured the same as one goroutine
// driving a 2-thread OpenBLAS on the dna-small products when the machine
// is idle, and it avoids OpenBLAS's spinning worker threads, which doubled
// CPU time in one run on a loaded machine; attention's many small products
// could not use a threaded BLAS anyway.
//
// OpenBLAS picks its kernels from the CPU, or from OPENBLAS_CORETYPE, which
// the backend leaves as set. On the AMD EPYC (AVX-512) this was developed on,
// OpenBLAS 0.3.21 selects Cooperlake; forcing SkylakeX or Haswell showed no
// consistent difference there in CPU time per kernel (Zen 4 executes 512-bit
// operations as two 256-bit halves, and the machine was shared, so timings
// were noisy); on Intel AVX-512 parts SkylakeX kernels are reported to be much
// faster than Haswell ones.
//
// # Attention
//
// Attention is tiled flash-attention style: per (batch, head, query block)
// an online softmax over key blocks, saving the output and the row
// log-sum-exp; the backward, per (batch, head), recomputes probabilities
// block by block from the log-sum-exp and forms dS = P * (dP - rowsum(dO*O)),
// so the (B,H,T,T) score matrix never exists. Causal attention skips the
// blocks above the diagonal; padded keys (keyMask) get probability 0, and a
// query with no valid key gets a zero output.
//
// # Vector math
//
// Built with GOEXPERIMENT=simd on amd64, exp (softmax rows), GELU,
// LayerNorm rows, rotary and the small row helpers use AVX-512 or AVX2+FMA
// through simd/archsimd, chosen by CPU feature checks at run time. Other
// builds use scalar code with a Cephes-style float32 exp (about 1e-7
// relative error), still several times faster than float64 math.Exp.
//
// # Benchmarks
//
// bench_test.go times the kernels at the dna-small shapes (B 8, T 1024,
// d 128, 4 heads, MLP 512, vocab 12):
//
//	GOEXPERIMENT=simd go test -run '^$' -bench . -count 3 ./compute/cpu
//
// Besides wall time each reports cpu-ms/op, the process CPU time per
// operation, which stays meaningful on a machine shared with other jobs.
package cpu
