// emu_macros.h: the CUDA keywords the emulator's preprocessing pass removes.
// __global__ and __shared__ are kept: nvrtc.cpp finds kernels and shared
// arrays by them and rewrites them.
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __align__(n) alignas(n)
#define __CUDACC__ 1
#define __CUDA_ARCH__ 900
#define SEQDIFF_CUDA_EMU 1
