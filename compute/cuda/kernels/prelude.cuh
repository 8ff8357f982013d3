// prelude.cuh: definitions shared by every kernel file; it is prepended to
// each .cu file before NVRTC compiles it (NVRTC has no system headers).
// Conventions, as in llm.c: B batch, T sequence length, C channels
// (d_model), H heads, hd = C/H head dim, V vocabulary, N = B*T rows.
// Every kernel is extern "C" so the Go side finds it by name.

#define NEG_INF __int_as_float(0xff800000)
#define POS_INF __int_as_float(0x7f800000)
#define F_NAN __int_as_float(0x7fffffff)

// Bits of the device fault word that Sync reads.
#define FAULT_TOKEN 1

// grid-stride loop over [0, n) with 64-bit indices.
#define GRID_STRIDE(i, n) \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (long long)gridDim.x * blockDim.x)

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ double warp_sum_d(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ double warp_max_d(double v) {
    for (int o = 16; o > 0; o >>= 1) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Block-wide reductions for blockDim.x a multiple of 32 (<= 1024); every
// thread gets the result. scratch holds 32 values.
__device__ __forceinline__ double block_sum_d(double v, double* scratch) {
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nw = blockDim.x / 32;
    v = warp_sum_d(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < nw ? scratch[lane] : 0.0;
    return warp_sum_d(v);
}
__device__ __forceinline__ double block_max_d(double v, double* scratch) {
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nw = blockDim.x / 32;
    v = warp_max_d(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < nw ? scratch[lane] : -1.0 / 0.0;
    return warp_max_d(v);
}
