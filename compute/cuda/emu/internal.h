// internal.h: state shared by the emulator's driver, launch runtime, NVRTC
// and cuBLAS stand-ins (one shared object; libcuda.so.1, libnvrtc.so.12
// and libcublas.so.12 are links to it, so the three share this state).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cuda_builtins.h"

#define EMU_EXPORT extern "C" __attribute__((visibility("default")))

namespace emu {

// The module ABI: a kernel image from another emulator build is refused.
constexpr int kABI = 1;

enum Code : int {
    kSuccess = 0,
    kInvalidValue = 1,
    kOutOfMemory = 2,
    kNotInitialized = 3,
    kNoDevice = 100,
    kInvalidDevice = 101,
    kInvalidImage = 200,
    kInvalidContext = 201,
    kInvalidHandle = 400,
    kNotFound = 500,
    kIllegalAddress = 700,
    kLaunchOutOfResources = 701,
    kLaunchFailed = 719,
    kUnknown = 999,
};

// Device limits the emulator reports and enforces (those of an H100).
constexpr int kMaxThreads = 1024;
constexpr int kSharedDefault = 48 * 1024;
constexpr int kSharedOptin = 232448;
constexpr int kCCMajor = 9, kCCMinor = 0;

struct Alloc {
    uintptr_t start = 0;
    size_t size = 0;
    char* map = nullptr; // the mapping, guard pages included
    size_t maplen = 0;
    size_t head = 0; // bytes between the first data page and start (canary)
    size_t slack = 0; // bytes after start+size up to the guard page (canary)
};

struct Module;
struct Function {
    const emu_kernel_desc* desc;
    Module* mod;
    int max_dynamic; // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
};

struct Module {
    void* handle = nullptr;
    int fd = -1;
    std::vector<Function*> fns;
};

// One lock for every API entry: the Go backend may call from any thread.
extern std::recursive_mutex mu;

// fail records the detail of an error for cuGetErrorString and returns code.
int fail(int code, const std::string& detail);
// sticky is the error that poisons the context after a fault (0: none).
extern int sticky;
int make_sticky(int code, const std::string& detail);

// Device memory.
extern std::map<uintptr_t, Alloc> allocs;
// find returns the allocation holding [p, p+n) (n 0: p itself, or its end).
const Alloc* find(uintptr_t p, size_t n);
// where describes p against the nearest allocation, for error messages.
std::string where(uintptr_t p);
// check_range returns "" when [p, p+n) is device memory, else why not.
std::string check_range(const char* what, uintptr_t p, size_t n);
bool canary_ok(const Alloc& a, std::string* why);

// Ctx is a suspended stack: fibers (one per GPU thread) and the big stack.
struct Ctx {
    void* sp = nullptr;
#if !defined(__x86_64__)
    void* uc = nullptr; // ucontext_t, elsewhere
#endif
};
// ctx_init makes c start entry (which must never return) on the stack
// [lo, lo+size); ctx_switch suspends the running stack into from and
// resumes to.
void ctx_init(Ctx* c, char* lo, size_t size, void (*entry)());
void ctx_switch(Ctx* from, Ctx* to);

// on_big_stack runs fn on the emulator's own 8 MiB stack: purego calls C
// on Go's system stack, which may be 16 KiB.
void on_big_stack(void (*fn)(void*), void* arg);

// launch runs a kernel over its whole grid (runtime.cpp).
int launch(Function* f, const unsigned grid[3], const unsigned block[3], unsigned smem, void** params);

// ctx_refs is the primary context's retain count (0: no context);
// live_comms the NCCL communicators not yet destroyed (nccl.cpp).
int ctx_refs();
int live_comms();

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
bool verbose();

} // namespace emu
