// cuda_builtins.h: the CUDA built-ins a kernel uses, for the CPU emulator.
// The emulated NVRTC includes it in front of every kernel module it builds
// with the system C++ compiler. Each GPU thread runs as a fiber; the
// runtime (libseqdiff_cuda_emu.so) switches fibers at barriers and warp
// shuffles, so the values below are those of the running thread.
#pragma once
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <type_traits>
#include <utility>

struct uint3 { unsigned int x, y, z; };
struct dim3 { unsigned int x, y, z; };
struct alignas(8) float2 { float x, y; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) int2 { int x, y; };
struct alignas(16) int4 { int x, y, z, w; };
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }

// The runtime's view of the running thread starts with its index.
struct emu_thread { uint3 tid; };

extern "C" {
extern emu_thread* emu_cur;
extern uint3 emu_block_idx;
extern dim3 emu_block_dim, emu_grid_dim;
int emu_lane_id(void);
void emu_syncthreads(void);
void emu_syncwarp(unsigned mask);
void emu_shfl(unsigned mask, const void* mine, void* out, int size, int src_lane);
void* emu_shared_static(int key, size_t bytes, size_t align);
void* emu_shared_dynamic(void);
void emu_trap(const char* what);
}

#define threadIdx (emu_cur->tid)
#define blockIdx emu_block_idx
#define blockDim emu_block_dim
#define gridDim emu_grid_dim
#define warpSize 32

inline void __syncthreads() { emu_syncthreads(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { emu_syncwarp(mask); }
inline void __trap() { emu_trap("__trap()"); }

// Warp shuffles. src < 0 asks for the caller's own value (a lane outside
// its width segment, as CUDA defines it); every lane of mask still meets
// the others, so a lane that has exited or is missing is found.
inline int emu_check_width(int width) {
    if (width <= 0 || width > 32 || (width & (width - 1)) != 0) emu_trap("shuffle width is not a power of 2 in [1, 32]");
    return width;
}
template <typename T> inline T emu_shfl_from(unsigned mask, T v, int src) {
    static_assert(sizeof(T) <= 8, "shuffle of more than 8 bytes");
    T out;
    emu_shfl(mask, &v, &out, (int)sizeof(T), src);
    return out;
}
template <typename T> inline T __shfl_sync(unsigned mask, T v, int srcLane, int width = 32) {
    width = emu_check_width(width);
    int lane = emu_lane_id();
    return emu_shfl_from(mask, v, (lane & ~(width - 1)) + (srcLane & (width - 1)));
}
template <typename T> inline T __shfl_xor_sync(unsigned mask, T v, int laneMask, int width = 32) {
    width = emu_check_width(width);
    int lane = emu_lane_id(), src = lane ^ laneMask;
    // A lane may read from earlier width groups, not later ones.
    if ((src & ~(width - 1)) > (lane & ~(width - 1)) || src > 31) src = -1;
    return emu_shfl_from(mask, v, src);
}
template <typename T> inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
    width = emu_check_width(width);
    int lane = emu_lane_id();
    int src = (lane & (width - 1)) + (int)delta >= width ? -1 : lane + (int)delta;
    return emu_shfl_from(mask, v, src);
}
template <typename T> inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
    width = emu_check_width(width);
    int lane = emu_lane_id();
    int src = (lane & (width - 1)) < (int)delta ? -1 : lane - (int)delta;
    return emu_shfl_from(mask, v, src);
}

// Atomics: fibers switch only at barriers, so a plain read-modify-write is
// atomic here.
template <typename T> inline T atomicAdd(T* p, T v) { T o = *p; *p = o + v; return o; }
template <typename T> inline T atomicSub(T* p, T v) { T o = *p; *p = o - v; return o; }
template <typename T> inline T atomicExch(T* p, T v) { T o = *p; *p = v; return o; }
template <typename T> inline T atomicMax(T* p, T v) { T o = *p; if (v > o) *p = v; return o; }
template <typename T> inline T atomicMin(T* p, T v) { T o = *p; if (v < o) *p = v; return o; }
template <typename T> inline T atomicOr(T* p, T v) { T o = *p; *p = o | v; return o; }
template <typename T> inline T atomicAnd(T* p, T v) { T o = *p; *p = o & v; return o; }
template <typename T> inline T atomicCAS(T* p, T cmp, T v) { T o = *p; if (o == cmp) *p = v; return o; }

// Intrinsics.
inline float __int_as_float(int i) { float f; memcpy(&f, &i, 4); return f; }
inline int __float_as_int(float f) { int i; memcpy(&i, &f, 4); return i; }
inline unsigned __float_as_uint(float f) { unsigned i; memcpy(&i, &f, 4); return i; }
inline float __uint_as_float(unsigned i) { float f; memcpy(&f, &i, 4); return f; }
inline double __longlong_as_double(long long i) { double f; memcpy(&f, &i, 8); return f; }
inline long long __double_as_longlong(double f) { long long i; memcpy(&i, &f, 8); return i; }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
template <typename T> inline T __ldg(const T* p) { return *p; }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }

// What a module tells the runtime about each kernel (see nvrtc.cpp).
struct emu_kernel_desc {
    const char* name;
    void (*entry)(void** params);
    int nparams;
    const unsigned* sizes;     // bytes of each parameter
    const unsigned char* ptrs; // 1 where the parameter is a pointer
    unsigned static_shared;    // bytes of the __shared__ arrays in its body
};
template <typename... A> struct emu_sig {
    static constexpr int n = sizeof...(A);
    static constexpr unsigned sizes[sizeof...(A) + 1] = {(unsigned)sizeof(A)..., 0};
    static constexpr unsigned char ptrs[sizeof...(A) + 1] = {(unsigned char)std::is_pointer<A>::value..., 0};
};
template <typename... A> emu_sig<A...> emu_sig_of(void (*)(A...));
template <typename... A, size_t... I>
inline void emu_call(void (*f)(A...), void** p, std::index_sequence<I...>) {
    f(*static_cast<typename std::remove_reference<A>::type*>(p[I])...);
}
template <typename... A> inline void emu_invoke(void (*f)(A...), void** p) {
    emu_call(f, p, std::index_sequence_for<A...>{});
}
