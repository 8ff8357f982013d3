// driver.cpp: the libcuda (driver API) stand-in: device, context, memory
// with guard pages, modules (kernel shared objects built by nvrtc.cpp),
// attributes and error strings. Launches are in runtime.cpp.
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "internal.h"

namespace emu {

std::recursive_mutex mu;
int sticky = 0;
std::map<uintptr_t, Alloc> allocs;

static std::string g_detail;
static int g_detail_code = 0;
static int g_ctx_refs = 0;
static int g_modules = 0;
static size_t g_used = 0;
static char g_ctx_token;

std::string fmt(const char* f, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    return buf;
}

bool verbose() {
    static int v = [] { const char* e = getenv("SEQDIFF_CUDA_EMU_VERBOSE"); return e && *e && strcmp(e, "0") != 0; }();
    return v;
}

int fail(int code, const std::string& detail) {
    g_detail = detail;
    g_detail_code = code;
    if (verbose()) fprintf(stderr, "cuda-emu: %s\n", detail.c_str());
    return code;
}

int make_sticky(int code, const std::string& detail) {
    if (!sticky) sticky = code;
    return fail(code, detail);
}

static size_t page() { static size_t p = (size_t)sysconf(_SC_PAGESIZE); return p; }
static constexpr size_t kGuard = 64 * 1024; // PROT_NONE either side of every allocation
static constexpr unsigned char kCanary = 0xA5;

static size_t mem_limit() {
    static size_t lim = [] {
        const char* e = getenv("SEQDIFF_CUDA_EMU_MEM_MIB");
        size_t mib = e && *e ? strtoull(e, nullptr, 10) : 8192;
        return mib << 20;
    }();
    return lim;
}

const Alloc* find(uintptr_t p, size_t n) {
    auto it = allocs.upper_bound(p);
    if (it == allocs.begin()) return nullptr;
    --it;
    const Alloc& a = it->second;
    if (p < a.start || p > a.start + a.size) return nullptr;
    if (n > a.start + a.size - p) return nullptr;
    if (n > 0 && p == a.start + a.size) return nullptr;
    return &a;
}

std::string where(uintptr_t p) {
    auto it = allocs.upper_bound(p);
    std::string s;
    if (it != allocs.begin()) {
        auto pr = std::prev(it);
        const Alloc& a = pr->second;
        if (p >= a.start && p < a.start + a.size)
            return fmt("byte %zu of a %zu-byte allocation at 0x%lx", (size_t)(p - a.start), a.size, (unsigned long)a.start);
        if (p >= a.start + a.size && p < a.start + a.size + kGuard + page())
            return fmt("%zu bytes past the end of a %zu-byte allocation at 0x%lx", (size_t)(p - a.start - a.size), a.size,
                       (unsigned long)a.start);
    }
    if (it != allocs.end() && it->first > p && it->first - p < kGuard + page())
        return fmt("%zu bytes before a %zu-byte allocation at 0x%lx", (size_t)(it->first - p), it->second.size,
                   (unsigned long)it->first);
    return "not device memory";
}

std::string check_range(const char* what, uintptr_t p, size_t n) {
    if (find(p, n)) return "";
    if (p == 0) return fmt("%s: null device pointer", what);
    const Alloc* a = find(p, 0);
    if (a) return fmt("%s: %zu bytes at byte %zu of a %zu-byte allocation run %zu bytes past its end", what, n,
                      (size_t)(p - a->start), a->size, (size_t)(p + n - a->start - a->size));
    return fmt("%s: 0x%lx is %s", what, (unsigned long)p, where(p).c_str());
}

bool canary_ok(const Alloc& a, std::string* why) {
    const unsigned char* h = (const unsigned char*)a.start - a.head;
    for (size_t i = 0; i < a.head; i++)
        if (h[i] != kCanary) {
            *why = fmt("a kernel wrote %zu bytes before the start of the %zu-byte allocation at 0x%lx", a.head - i, a.size,
                       (unsigned long)a.start);
            return false;
        }
    const unsigned char* t = (const unsigned char*)a.start + a.size;
    for (size_t i = 0; i < a.slack; i++)
        if (t[i] != kCanary) {
            *why = fmt("a kernel wrote %zu bytes past the end of the %zu-byte allocation at 0x%lx", i + 1, a.size,
                       (unsigned long)a.start);
            return false;
        }
    return true;
}

static void release(Alloc& a) {
    munmap(a.map, a.maplen);
    g_used -= a.size;
}

// The big stack: every API entry that runs user code or the compiler
// switches to it (see on_big_stack).
struct BigStack {
    char* base = nullptr;
    size_t size = 8 << 20;
};
static BigStack g_big;
static bool g_on_big = false;

} // namespace emu

namespace emu {

static void (*g_big_fn)(void*);
static void* g_big_arg;
static Ctx g_big_ret, g_big_ctx;

static void big_entry() {
    for (;;) {
        g_big_fn(g_big_arg);
        ctx_switch(&g_big_ctx, &g_big_ret);
    }
}

void on_big_stack(void (*fn)(void*), void* arg) {
    if (g_on_big) { // already there (a nested entry)
        fn(arg);
        return;
    }
    if (!g_big.base) {
        g_big.base = (char*)mmap(nullptr, g_big.size + page(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                                 -1, 0);
        mprotect(g_big.base, page(), PROT_NONE);
    }
    g_big_fn = fn;
    g_big_arg = arg;
    ctx_init(&g_big_ctx, g_big.base + page(), g_big.size, big_entry);
    g_on_big = true;
    ctx_switch(&g_big_ret, &g_big_ctx);
    g_on_big = false;
}

} // namespace emu

using namespace emu;

// ------------------------------------------------------------------ errors
static const struct {
    int code;
    const char *name, *desc;
} kErrors[] = {
    {0, "CUDA_SUCCESS", "no error"},
    {1, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {3, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {100, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {101, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {200, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid"},
    {201, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {400, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {500, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {700, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered"},
    {701, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", "too many resources requested for launch"},
    {719, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"},
    {999, "CUDA_ERROR_UNKNOWN", "unknown error"},
};

EMU_EXPORT int cuGetErrorName(int code, const char** s) {
    for (auto& e : kErrors)
        if (e.code == code) {
            *s = e.name;
            return 0;
        }
    *s = nullptr;
    return kInvalidValue;
}

EMU_EXPORT int cuGetErrorString(int code, const char** s) {
    std::lock_guard<std::recursive_mutex> l(mu);
    static std::string buf;
    for (auto& e : kErrors)
        if (e.code == code) {
            buf = e.desc;
            if (code == g_detail_code && !g_detail.empty()) buf += std::string("; cuda-emu: ") + g_detail;
            *s = buf.c_str();
            return 0;
        }
    *s = nullptr;
    return kInvalidValue;
}

// ------------------------------------------------------------------ device
static bool g_init = false;

EMU_EXPORT int cuInit(unsigned flags) {
    std::lock_guard<std::recursive_mutex> l(mu);
    if (flags != 0) return fail(kInvalidValue, "cuInit: flags must be 0");
    g_init = true;
    return 0;
}

EMU_EXPORT int cuDriverGetVersion(int* v) {
    if (!v) return kInvalidValue;
    *v = 12080;
    return 0;
}

#define NEED_INIT() \
    if (!g_init) return kNotInitialized

EMU_EXPORT int cuDeviceGetCount(int* n) {
    NEED_INIT();
    *n = 1;
    return 0;
}

EMU_EXPORT int cuDeviceGet(int* dev, int ordinal) {
    NEED_INIT();
    if (ordinal != 0) return fail(kInvalidDevice, fmt("cuDeviceGet: device %d of 1", ordinal));
    *dev = 0;
    return 0;
}

EMU_EXPORT int cuDeviceGetName(char* buf, int len, int dev) {
    NEED_INIT();
    if (dev != 0) return kInvalidDevice;
    if (len <= 0) return kInvalidValue;
    snprintf(buf, (size_t)len, "seqdiff CUDA emulator (CPU)");
    return 0;
}

EMU_EXPORT int cuDeviceTotalMem_v2(size_t* bytes, int dev) {
    NEED_INIT();
    if (dev != 0) return kInvalidDevice;
    *bytes = mem_limit();
    return 0;
}

static int sm_count() {
    const char* e = getenv("SEQDIFF_CUDA_EMU_SMS");
    int n = e && *e ? atoi(e) : 2;
    return n > 0 ? n : 2;
}

EMU_EXPORT int cuDeviceGetAttribute(int* v, int attr, int dev) {
    NEED_INIT();
    if (dev != 0) return kInvalidDevice;
    switch (attr) {
    case 1: *v = kMaxThreads; break;                     // MAX_THREADS_PER_BLOCK
    case 2: case 3: *v = 1024; break;                     // MAX_BLOCK_DIM_X/Y
    case 4: *v = 64; break;                               // MAX_BLOCK_DIM_Z
    case 5: *v = 2147483647; break;                       // MAX_GRID_DIM_X
    case 6: case 7: *v = 65535; break;                    // MAX_GRID_DIM_Y/Z
    case 8: *v = kSharedDefault; break;                   // MAX_SHARED_MEMORY_PER_BLOCK
    case 9: *v = 65536; break;                            // TOTAL_CONSTANT_MEMORY
    case 10: *v = 32; break;                              // WARP_SIZE
    case 12: *v = 65536; break;                           // MAX_REGISTERS_PER_BLOCK
    case 13: *v = 1000000; break;                         // CLOCK_RATE (kHz)
    case 16: *v = sm_count(); break;                      // MULTIPROCESSOR_COUNT
    case 39: *v = 2048; break;                            // MAX_THREADS_PER_MULTIPROCESSOR
    case 75: *v = kCCMajor; break;                        // COMPUTE_CAPABILITY_MAJOR
    case 76: *v = kCCMinor; break;                        // COMPUTE_CAPABILITY_MINOR
    case 81: *v = kSharedOptin + 1024; break;             // MAX_SHARED_MEMORY_PER_MULTIPROCESSOR
    case 97: *v = kSharedOptin; break;                    // MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
    default: *v = 0;
    }
    return 0;
}

// ------------------------------------------------------------------ context
EMU_EXPORT int cuDevicePrimaryCtxRetain(void** ctx, int dev) {
    std::lock_guard<std::recursive_mutex> l(mu);
    NEED_INIT();
    if (dev != 0) return kInvalidDevice;
    g_ctx_refs++;
    *ctx = &g_ctx_token;
    return 0;
}

int emu::ctx_refs() { return g_ctx_refs; }

// The last release destroys the context: what is still allocated then is
// a leak, reported as an error (the backend's Close returns it).
EMU_EXPORT int cuDevicePrimaryCtxRelease_v2(int dev) {
    std::lock_guard<std::recursive_mutex> l(mu);
    if (dev != 0) return kInvalidDevice;
    if (g_ctx_refs <= 0) return fail(kInvalidContext, "cuDevicePrimaryCtxRelease: the context is not retained");
    if (--g_ctx_refs > 0) return 0;
    sticky = 0;
    size_t n = allocs.size(), bytes = 0;
    std::string first;
    for (auto& kv : allocs) {
        bytes += kv.second.size;
        if (first.empty()) first = fmt(" (the first: %zu bytes at 0x%lx)", kv.second.size, (unsigned long)kv.first);
        release(kv.second);
    }
    allocs.clear();
    int mods = g_modules, comms = live_comms();
    if (n > 0 || mods > 0 || comms > 0) {
        std::string d = "leak: when the context was destroyed";
        if (n > 0) d += fmt(" %zu allocations (%zu bytes)%s were never freed", n, bytes, first.c_str());
        if (mods > 0) d += fmt("%s %d modules were never unloaded", n > 0 ? " and" : "", mods);
        if (comms > 0) d += fmt("%s %d NCCL communicators were never destroyed", n > 0 || mods > 0 ? " and" : "", comms);
        fprintf(stderr, "cuda-emu: %s\n", d.c_str());
        return fail(kUnknown, d);
    }
    return 0;
}

EMU_EXPORT int cuCtxSetCurrent(void* ctx) {
    if (ctx != nullptr && ctx != &g_ctx_token) return kInvalidContext;
    return 0;
}

EMU_EXPORT int cuCtxSynchronize(void) {
    std::lock_guard<std::recursive_mutex> l(mu);
    if (sticky) return sticky;
    for (auto& kv : allocs) {
        std::string why;
        if (!canary_ok(kv.second, &why)) return make_sticky(kIllegalAddress, why);
    }
    return 0;
}

// ------------------------------------------------------------------ memory
EMU_EXPORT int cuMemAlloc_v2(uintptr_t* dptr, size_t bytes) {
    std::lock_guard<std::recursive_mutex> l(mu);
    if (sticky) return sticky;
    if (!g_ctx_refs) return kInvalidContext;
    if (bytes == 0) return fail(kInvalidValue, "cuMemAlloc: 0 bytes");
    if (bytes > mem_limit() - g_used) return fail(kOutOfMemory, fmt("cuMemAlloc: %zu bytes with %zu of %zu in use", bytes, g_used, mem_limit()));
    size_t data = (bytes + 15) & ~(size_t)15; // 16-byte aligned start, end at the guard page
    size_t pages = (data + page() - 1) / page() * page();
    size_t len = kGuard + pages + kGuard;
    char* m = (char*)mmap(nullptr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return fail(kOutOfMemory, "cuMemAlloc: mmap failed");
    if (mprotect(m + kGuard, pages, PROT_READ | PROT_WRITE) != 0) {
        munmap(m, len);
        return fail(kOutOfMemory, "cuMemAlloc: mprotect failed");
    }
    Alloc a;
    a.map = m;
    a.maplen = len;
    a.start = (uintptr_t)(m + kGuard + pages - data);
    a.size = bytes;
    a.head = pages - data;
    a.slack = data - bytes;
    memset(m + kGuard, kCanary, a.head);
    memset((char*)a.start, 0xFF, bytes); // fresh device memory is garbage: NaN floats, -1 ints
    memset((char*)a.start + bytes, kCanary, a.slack);
    allocs[a.start] = a;
    g_used += bytes;
    *dptr = a.start;
    return 0;
}

EMU_EXPORT int cuMemFree_v2(uintptr_t p) {
    std::lock_guard<std::recursive_mutex> l(mu);
    if (sticky) return sticky;
    auto it = allocs.find(p);
    if (it == allocs.end()) return fail(kInvalidValue, fmt("cuMemFree: 0x%lx is %s, not the start of an allocation", (unsigned long)p, where(p).c_str()));
    std::string why;
    bool ok = canary_ok(it->second, &why);
    release(it->second);
    allocs.erase(it);
    if (!ok) return make_sticky(kIllegalAddress, why + " (found when it was freed)");
    return 0;
}

EMU_EXPORT int cuMemcpyHtoD_v2(uintptr_t dst, const void* src, size_t n) {
    std::lock_guard<std::recursive_mutex> l(mu);
    if (sticky) return sticky;
    if (n == 0) return 0;
    std::string e = check_range("cuMemcpyHtoD destination", dst, n);
    if (!e.empty()) return fail(kInvalidValue, e);
    memcpy((void*)dst, src, n);
    return 0;
}

EMU_EXPORT int cuMemcpyDtoH_v2(void* dst, uintptr_t src, size_t n) {
    std::lock_guard<std::recursive_mutex> l(mu);
    if (sticky) return sticky;
    if (n == 0) return 0;
    std::string e = check_range("cuMemcpyDtoH source", src, n);
    if (!e.empty()) return fail(kInvalidValue, e);
    memcpy(dst, (const void*)src, n);
    return 0;
}

EMU_EXPORT int cuMemcpyDtoD_v2(uintptr_t dst, uintptr_t src, size_t n) {
    std::lock_guard<std::recursive_mutex> l(mu);
    if (sticky) return sticky;
    if (n == 0) return 0;
    std::string e = check_range("cuMemcpyDtoD destination", dst, n);
    if (e.empty()) e = check_range("cuMemcpyDtoD source", src, n);
    if (!e.empty()) return fail(kInvalidValue, e);
    memmove((void*)dst, (const void*)src, n);
    return 0;
}

EMU_EXPORT int cuMemsetD32_v2(uintptr_t dst, unsigned v, size_t n) {
    std::lock_guard<std::recursive_mutex> l(mu);
    if (sticky) return sticky;
    if (n == 0) return 0;
    if (dst % 4) return fail(kInvalidValue, "cuMemsetD32: destination not 4-byte aligned");
    std::string e = check_range("cuMemsetD32 destination", dst, 4 * n);
    if (!e.empty()) return fail(kInvalidValue, e);
    unsigned* p = (unsigned*)dst;
    for (size_t i = 0; i < n; i++) p[i] = v;
    return 0;
}

// ------------------------------------------------------------------ modules
// An image is the kernel shared object nvrtc.cpp built: an ELF file as the
// "CUBIN", or, for a compute_XX target, a text "PTX" carrying it in base64.
static size_t elf_size(const unsigned char* p) {
    // 64-bit ELF: e_shoff at 0x28, e_shentsize at 0x3A, e_shnum at 0x3C.
    uint64_t shoff;
    uint16_t shentsize, shnum;
    memcpy(&shoff, p + 0x28, 8);
    memcpy(&shentsize, p + 0x3A, 2);
    memcpy(&shnum, p + 0x3C, 2);
    return (size_t)(shoff + (uint64_t)shentsize * shnum);
}

static bool b64decode(const char* s, std::string* out) {
    auto val = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    unsigned buf = 0;
    int bits = 0;
    for (; *s && *s != '\n'; s++) {
        if (*s == '=') break;
        int v = val(*s);
        if (v < 0) return false;
        buf = (buf << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->push_back((char)((buf >> bits) & 0xFF));
        }
    }
    return true;
}

struct LoadArgs {
    const void* image;
    Module** out;
    int rc;
};

static void load_module(void* p) {
    LoadArgs* a = (LoadArgs*)p;
    const unsigned char* img = (const unsigned char*)a->image;
    std::string so;
    if (memcmp(img, "\x7f" "ELF", 4) == 0) {
        so.assign((const char*)img, elf_size(img));
    } else if (strncmp((const char*)img, "// seqdiff cuda-emu", 19) == 0) {
        const char* b = strstr((const char*)img, "\n.emu_image ");
        if (!b || !b64decode(b + 12, &so) || so.size() < 64) {
            a->rc = fail(kInvalidImage, "cuModuleLoadData: the emulator's PTX stand-in has no readable .emu_image");
            return;
        }
    } else {
        a->rc = fail(kInvalidImage, "cuModuleLoadData: not an image from the emulator's NVRTC (a real CUBIN or PTX cannot run on the CPU)");
        return;
    }
    int fd = memfd_create("seqdiff-cuda-emu-module", MFD_CLOEXEC);
    if (fd < 0 || write(fd, so.data(), so.size()) != (ssize_t)so.size()) {
        if (fd >= 0) close(fd);
        a->rc = fail(kInvalidImage, "cuModuleLoadData: memfd write failed");
        return;
    }
    std::string path = fmt("/proc/self/fd/%d", fd);
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        close(fd);
        a->rc = fail(kInvalidImage, fmt("cuModuleLoadData: dlopen: %s", dlerror()));
        return;
    }
    const int* abi = (const int*)dlsym(h, "emu_abi");
    const emu_kernel_desc* ks = (const emu_kernel_desc*)dlsym(h, "emu_kernels");
    if (!abi || !ks || *abi != kABI) {
        dlclose(h);
        close(fd);
        a->rc = fail(kInvalidImage, fmt("cuModuleLoadData: image from another emulator build (ABI %d, want %d)", abi ? *abi : -1, kABI));
        return;
    }
    Module* m = new Module;
    m->handle = h;
    m->fd = fd;
    for (const emu_kernel_desc* k = ks; k->name; k++) {
        int st = (int)k->static_shared;
        m->fns.push_back(new Function{k, m, kSharedDefault - st > 0 ? kSharedDefault - st : 0});
    }
    g_modules++;
    *a->out = m;
    a->rc = 0;
}

EMU_EXPORT int cuModuleLoadData(Module** mod, const void* image) {
    std::lock_guard<std::recursive_mutex> l(mu);
    if (sticky) return sticky;
    if (!g_ctx_refs) return kInvalidContext;
    if (!mod || !image) return kInvalidValue;
    LoadArgs a{image, mod, 0};
    on_big_stack(load_module, &a);
    return a.rc;
}

EMU_EXPORT int cuModuleUnload(Module* m) {
    std::lock_guard<std::recursive_mutex> l(mu);
    if (!m) return kInvalidHandle;
    for (Function* f : m->fns) delete f;
    dlclose(m->handle);
    close(m->fd);
    delete m;
    g_modules--;
    return 0;
}

EMU_EXPORT int cuModuleGetFunction(Function** f, Module* m, const char* name) {
    std::lock_guard<std::recursive_mutex> l(mu);
    if (!m || !name) return kInvalidHandle;
    for (Function* fn : m->fns)
        if (strcmp(fn->desc->name, name) == 0) {
            *f = fn;
            return 0;
        }
    return fail(kNotFound, fmt("cuModuleGetFunction: no kernel named %s", name));
}

EMU_EXPORT int cuFuncGetAttribute(int* v, int attr, Function* f) {
    if (!f) return kInvalidHandle;
    switch (attr) {
    case 0: *v = kMaxThreads; break;                         // MAX_THREADS_PER_BLOCK
    case 1: *v = (int)f->desc->static_shared; break;         // SHARED_SIZE_BYTES
    case 4: *v = 32; break;                                  // NUM_REGS
    case 5: case 6: *v = 10 * kCCMajor + kCCMinor; break;    // PTX_VERSION, BINARY_VERSION
    case 8: *v = f->max_dynamic; break;                      // MAX_DYNAMIC_SHARED_SIZE_BYTES
    case 9: *v = -1; break;                                  // PREFERRED_SHARED_MEMORY_CARVEOUT
    default: *v = 0;
    }
    return 0;
}

EMU_EXPORT int cuFuncSetAttribute(Function* f, int attr, int v) {
    std::lock_guard<std::recursive_mutex> l(mu);
    if (!f) return kInvalidHandle;
    if (attr == 8) {
        if (v < 0 || v + (int)f->desc->static_shared > kSharedOptin)
            return fail(kInvalidValue, fmt("cuFuncSetAttribute %s: %d dynamic + %u static bytes of shared memory > %d", f->desc->name, v,
                                           f->desc->static_shared, kSharedOptin));
        f->max_dynamic = v;
    }
    return 0;
}

// cuFuncGetParamInfo (CUDA 12.4): a parameter's offset and size, so a
// caller can check the arguments it passes.
EMU_EXPORT int cuFuncGetParamInfo(Function* f, size_t index, size_t* offset, size_t* size) {
    if (!f) return kInvalidHandle;
    if (index >= (size_t)f->desc->nparams) return kInvalidValue;
    size_t off = 0;
    for (size_t i = 0;; i++) {
        size_t s = f->desc->sizes[i];
        off = (off + s - 1) / s * s;
        if (i == index) {
            if (offset) *offset = off;
            if (size) *size = s;
            return 0;
        }
        off += s;
    }
}

EMU_EXPORT int cuLaunchKernel(Function* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned smem,
                              void* stream, void** params, void** extra) {
    std::lock_guard<std::recursive_mutex> l(mu);
    if (sticky) return sticky;
    if (!f) return kInvalidHandle;
    if (stream) return fail(kInvalidHandle, "cuLaunchKernel: the emulator runs the legacy default stream only");
    if (extra) return fail(kInvalidValue, "cuLaunchKernel: extra is not supported by the emulator");
    if (f->desc->nparams > 0 && !params) return fail(kInvalidValue, fmt("cuLaunchKernel %s: no parameters for %d", f->desc->name, f->desc->nparams));
    unsigned grid[3] = {gx, gy, gz}, block[3] = {bx, by, bz};
    return launch(f, grid, block, smem, params);
}
