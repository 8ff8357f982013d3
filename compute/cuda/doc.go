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
// All work goes to one CUDA stream (the legacy default stream), in order.
// A Backend is not safe for concurrent use; each method pins its goroutine
// to an OS thread for the duration and makes the backend's context current
// there, so it may be called from any goroutine.
package cuda
