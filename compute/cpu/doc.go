// Package cpu implements compute.Backend on the host CPU in float32.
//
// Construct it with New(threads); threads 0 means all cores. Kernels split
// their work over that many goroutines with a partition fixed by the shapes
// and the thread count, and reduce (LayerNorm dw/db, SumSquares) per fixed
// chunk in chunk order, so the same inputs and thread count give
// bit-identical outputs. A Backend is not safe for concurrent use.
//
// Matrix products (the linear layers and the blocks inside attention) are
// single-threaded sgemm calls made from those goroutines. At run time the
// backend loads OpenBLAS through purego (libopenblas.so.0, then the other
// usual names; a libblas.so.3 is accepted only if it exports OpenBLAS's own
// symbols such as openblas_get_config, so Debian's reference BLAS is never
// picked), sets it to one thread so it does not fight the goroutines, and
// otherwise falls back to gonum's pure-Go BLAS. A CGO_ENABLED=0 binary does
// both. SEQDIFF_BLAS=go forces gonum. OpenBLAS chooses its kernels from the
// CPU or from OPENBLAS_CORETYPE, which the backend leaves as set (on
// AVX-512 machines OpenBLAS 0.3.21 picks Cooperlake or SkylakeX kernels;
// both are far faster than Haswell). Backend.BLAS reports what was loaded.
//
// Attention is tiled flash-attention style: per (batch, head, query block)
// an online softmax over key blocks, saving the output and the row
// log-sum-exp; the backward recomputes probabilities block by block from
// the log-sum-exp, so the (B,H,T,T) score matrix never exists. Causal
// attention skips the blocks above the diagonal.
//
// Built with GOEXPERIMENT=simd on amd64, exp (softmax rows) and GELU use
// AVX-512 or AVX2+FMA through simd/archsimd, chosen by CPU feature checks at
// run time; other builds use a scalar Cephes-style float32 exp (about 1e-7
// relative error), still several times faster than math.Exp.
package cpu
