// Package cuda implements compute.Backend on an NVIDIA GPU without cgo.
//
// The CUDA driver (libcuda.so.1), NVRTC (libnvrtc.so.*) and cuBLAS
// (libcublas.so.*) are loaded at run time through purego, so one
// CGO_ENABLED=0 binary runs on machines with and without a GPU; nothing
// CUDA is needed to build it. Libraries are looked for, in order, in the
// folders of SEQDIFF_CUDA_LIBS (a colon list), LD_LIBRARY_PATH, the usual
// CUDA folders (/usr/local/cuda/lib64, /usr/local/nvidia/lib64,
// /usr/lib/x86_64-linux-gnu, ...), the nvidia/*/lib folders that PyTorch's
// wheels install under Python's site-packages, and finally by bare name
// through the system loader. New reports every library it could not find.
//
// The kernels are CUDA C in kernels/*.cu, embedded in the binary and
// compiled by NVRTC at first use for the device's own architecture
// (sm_XX from its compute capability). The CUBIN is cached under
// os.UserCacheDir()/seqdiff/cuda, keyed by the sha256 of the source, the
// architecture, the options and the NVRTC version, so later runs skip the
// compile. A GPU newer than the NVRTC found gets PTX for the newest
// architecture NVRTC knows, which the driver compiles at load. Matrix
// products go to cublasSgemm; Options.TF32 lets cuBLAS use the TF32 tensor
// cores (about 3e-4 relative error instead of 1e-6). Attention is fused
// (flash-attention style, online softmax, the backward recomputing the
// scores from the saved log-sum-exp) for head dims up to 128; see
// kernels/attention.cu. Float atomics make LayerNorm's and the
// embedding's weight gradients vary in the last bits from run to run.
//
// Errors. The kernels of compute.Backend return no error, so the backend
// records the first failing CUDA call (with the kernel or call that made
// it) and returns it from Sync; once an error is recorded, later launches
// are skipped. Device-side faults the kernels detect themselves (a token id
// outside the vocabulary) set a flag in device memory that Sync also reads.
// Sync, Download and SumSquares are the points where the host waits.
//
// Launches are checked against each kernel's parameter sizes where the
// driver can say (cuFuncGetParamInfo, driver 12.4+), so an argument added
// to a kernel but not to its launch fails at once with the kernel's name.
//
// NCCL (libnccl.so.2, found the same way, loaded only when asked) sums the
// gradients of a data-parallel run on the GPUs: the backend is a
// compute.CollectiveBackend (CollectiveID, JoinCollective), which package
// dist joins over MPI; see nccl.go and docs/distributed.md.
//
// # The emulated device
//
// emu/ holds C++ stand-ins for the parts of libcuda, NVRTC, cuBLAS and
// NCCL the backend uses, built by `make cuda-emu` into build/cuda-emu and selected
// with SEQDIFF_CUDA_LIBS=build/cuda-emu, so this package runs unchanged,
// with its own kernels, on a machine without a GPU (`make test-cuda-emu`,
// in CI on every commit):
//   - "NVRTC" compiles the embedded .cu sources with the system C++
//     compiler against emu/cuda_builtins.h (thread and block indices,
//     barriers, warp shuffles, atomics, shared memory, the intrinsics the
//     kernels use) into a shared object, the "CUBIN" (a compute_XX target
//     gets a text "PTX" that carries it);
//   - the "driver" runs each launch over its whole grid, blocks in a
//     shuffled order (SEQDIFF_CUDA_EMU_SEED), every thread of a block a
//     fiber switched at barriers and shuffles, warps of exactly 32. It
//     checks launch limits, that pointer arguments are device memory, that
//     warp shuffles name only live lanes of one agreed mask, and it finds
//     deadlocked barriers; it poisons fresh device and shared memory with
//     NaN bytes; every allocation ends at a guard page (64 KiB either
//     side, canaries in the few bytes of alignment slack), as does dynamic
//     shared memory and each thread's stack, so an out-of-bounds access is
//     CUDA_ERROR_ILLEGAL_ADDRESS naming the kernel, block, thread and
//     address; the last context release reports leaked allocations and
//     modules as an error;
//   - "cuBLAS" is a reference sgemm (float64 sums) that checks every
//     leading dimension and that each operand lies inside one allocation,
//     and rounds the operands to TF32 in TF32 mode;
//   - "NCCL" joins the ranks of a communicator, each a process with its
//     own emulated device, through POSIX shared memory named by the unique
//     id; its all-reduce sums in rank order (the same bits on every rank),
//     checks both buffers against the live allocations, and times out
//     rather than hangs when a peer never comes.
//
// TestEmulatorCatchesSeededBugs shows it is not vacuous: an out-of-bounds
// write, a missing __syncthreads in a reduction, an off-by-one index, a
// wrong shuffle width and a shuffle naming an exited lane, each seeded
// into a copy of the real kernels, all fail under it.
//
// What it does not catch: code NVRTC rejects but a C++ compiler accepts
// (and the reverse), and PTX or register-level problems (spills, register
// limits, occupancy, launch-bounds); the GPU's floating point (FMA
// contraction, fast-math intrinsics, TF32 beyond the operand rounding, the
// order of float atomics); races that need real concurrency: two blocks
// never run at once, the threads of a block interleave only at barriers
// and shuffles, so a missing barrier shows only where the fiber order
// exposes it, warp-synchronous code without __syncwarp looks correct, and
// the memory model (fences, visibility between blocks, volatile) is
// untested; reads in the alignment slack (under 16 bytes) past an
// allocation; streams, asynchrony and speed.
//
// All work goes to one CUDA stream (the legacy default stream), in order.
// A Backend is not safe for concurrent use; each method pins its goroutine
// to an OS thread for the duration and makes the backend's context current
// there, so it may be called from any goroutine.
package cuda
