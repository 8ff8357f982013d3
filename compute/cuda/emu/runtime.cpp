// runtime.cpp: kernel launches on the CPU. The blocks of a grid run one at
// a time, in a shuffled order (races between blocks show up as results
// that change with SEQDIFF_CUDA_EMU_SEED); the threads of a block are
// fibers on one OS thread, switched only at __syncthreads, __syncwarp and
// warp shuffles, so barriers and shuffles behave as on a GPU and a read of
// shared memory that a missing barrier leaves unordered sees the wrong
// value (shared memory is poisoned with 0xFF bytes at each block's start).
// Warps are exactly 32 consecutive threads. Memory faults (guard pages
// around every allocation, after dynamic shared memory and below every
// fiber stack) end the launch with CUDA_ERROR_ILLEGAL_ADDRESS naming the
// kernel, block, thread and address.
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "internal.h"

// Declared extern "C" in cuda_builtins.h.
#define EMU_VAR __attribute__((visibility("default")))
EMU_VAR emu_thread* emu_cur = nullptr;
EMU_VAR uint3 emu_block_idx = {0, 0, 0};
EMU_VAR dim3 emu_block_dim = {1, 1, 1};
EMU_VAR dim3 emu_grid_dim = {1, 1, 1};

// ------------------------------------------------------------------ stack switching
#if defined(__x86_64__)
// emu_ctx_switch(save, to) pushes the callee-saved registers, stores the
// stack pointer in *save, and resumes the stack at to.
asm(R"(
.text
.globl emu_ctx_switch
.hidden emu_ctx_switch
.type emu_ctx_switch,@function
emu_ctx_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
.size emu_ctx_switch, .-emu_ctx_switch
)");
extern "C" void emu_ctx_switch(void** save, void* to);

namespace emu {
void ctx_init(Ctx* c, char* lo, size_t size, void (*entry)()) {
    void** sp = (void**)(((uintptr_t)(lo + size)) & ~(uintptr_t)15);
    *--sp = nullptr;       // entry's return address: it never returns
    *--sp = (void*)entry;  // where emu_ctx_switch's ret goes
    for (int i = 0; i < 6; i++) *--sp = nullptr; // rbp rbx r12-r15
    c->sp = sp;
}
void ctx_switch(Ctx* from, Ctx* to) { emu_ctx_switch(&from->sp, to->sp); }
} // namespace emu
#else
namespace emu {
void ctx_init(Ctx* c, char* lo, size_t size, void (*entry)()) {
    if (!c->uc) c->uc = new ucontext_t;
    ucontext_t* u = (ucontext_t*)c->uc;
    getcontext(u);
    u->uc_stack.ss_sp = lo;
    u->uc_stack.ss_size = size;
    u->uc_link = nullptr;
    makecontext(u, entry, 0);
}
void ctx_switch(Ctx* from, Ctx* to) {
    if (!from->uc) from->uc = new ucontext_t;
    swapcontext((ucontext_t*)from->uc, (ucontext_t*)to->uc);
}
} // namespace emu
#endif

namespace emu {

enum State { kReady, kWaitBlock, kWaitWarp, kDone };

struct Fiber {
    emu_thread t; // first: kernels read emu_cur->tid
    Ctx ctx;
    int state = kReady, lane = 0, warp = 0;
};

struct Warp {
    unsigned exists = 0, live = 0, arrived = 0, mask = 0;
    int kind = 0; // of the pending barrier: 1 shuffle, 2 __syncwarp
    struct Req {
        void* out;
        int src, size;
    } req[32];
    unsigned char vals[32][8];
};

struct Launch {
    Function* f = nullptr;
    void** params = nullptr;
    unsigned grid[3], block[3];
    int nthreads = 0, nwarps = 0;
    Fiber* fibers = nullptr;
    Warp* warps = nullptr;
    int live = 0, arrived_block = 0;
    char* stat = nullptr;
    size_t stat_used = 0;
    std::vector<std::pair<int, size_t>> stat_keys;
    char* dyn = nullptr;
    size_t dyn_bytes = 0, shared_limit = 0;
    Ctx sched;
    bool failed = false;
    int code = 0;
    std::string err;
    unsigned long long seq = 0;
};

static Launch* L = nullptr;
static unsigned long long g_launches = 0;

static size_t page() { static size_t p = (size_t)sysconf(_SC_PAGESIZE); return p; }
static size_t round_page(size_t n) { return (n + page() - 1) / page() * page(); }

// Fiber stacks: kMaxThreads of them, each with a guard page below.
static size_t stack_size() {
    static size_t s = [] {
        const char* e = getenv("SEQDIFF_CUDA_EMU_STACK_KIB");
        size_t kib = e && *e ? strtoull(e, nullptr, 10) : 128;
        return round_page((kib > 16 ? kib : 16) << 10);
    }();
    return s;
}
static char* g_stacks = nullptr;
static char* g_stat = nullptr; // static shared arena, guard after
static char* g_dyn_end = nullptr; // dynamic shared memory ends at a guard page
static size_t g_arena = 0;

static bool setup() {
    if (g_stacks) return true;
    size_t per = stack_size() + page();
    g_stacks = (char*)mmap(nullptr, per * kMaxThreads, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (g_stacks == MAP_FAILED) {
        g_stacks = nullptr;
        return false;
    }
    for (int i = 0; i < kMaxThreads; i++) mprotect(g_stacks + i * per, page(), PROT_NONE);
    g_arena = round_page(kSharedOptin);
    char* a = (char*)mmap(nullptr, 2 * (g_arena + page()), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (a == MAP_FAILED) return false;
    mprotect(a, g_arena, PROT_READ | PROT_WRITE);
    mprotect(a + g_arena + page(), g_arena, PROT_READ | PROT_WRITE);
    g_stat = a;
    g_dyn_end = a + g_arena + page() + g_arena;
    return true;
}

static Fiber* cur() { return (Fiber*)emu_cur; }

static std::string who(const Fiber* f) {
    std::string s = fmt("kernel %s, thread (%u,%u,%u) of block (%u,%u,%u)", L->f->desc->name, f->t.tid.x, f->t.tid.y, f->t.tid.z,
                        emu_block_idx.x, emu_block_idx.y, emu_block_idx.z);
    return s;
}

// abort_kernel ends the launch from inside a fiber; it never returns.
[[noreturn]] static void abort_kernel(int code, const std::string& msg) {
    Fiber* f = cur();
    L->failed = true;
    L->code = code;
    L->err = who(f) + ": " + msg;
    ctx_switch(&f->ctx, &L->sched);
    __builtin_unreachable();
}

static void yield(Fiber* f) { ctx_switch(&f->ctx, &L->sched); }

static void release_block() {
    for (int i = 0; i < L->nthreads; i++)
        if (L->fibers[i].state == kWaitBlock) L->fibers[i].state = kReady;
    L->arrived_block = 0;
}

static void fiber_exit() {
    Fiber* f = cur();
    Warp& w = L->warps[f->warp];
    unsigned bit = 1u << f->lane;
    f->state = kDone;
    L->live--;
    w.live &= ~bit;
    if (w.arrived && (w.mask & bit))
        abort_kernel(kLaunchFailed, fmt("lane %d exited while lanes 0x%08x of its warp wait for it at a %s (mask 0x%08x)", f->lane, w.arrived,
                                        w.kind == 1 ? "shuffle" : "__syncwarp", w.mask));
    if (L->arrived_block > 0 && L->arrived_block == L->live) release_block();
    ctx_switch(&f->ctx, &L->sched);
    __builtin_unreachable();
}

static void fiber_entry() {
    L->f->desc->entry(L->params);
    fiber_exit();
}

static void warp_barrier(unsigned mask, int kind, const void* mine, void* out, int size, int src) {
    Fiber* f = cur();
    Warp& w = L->warps[f->warp];
    unsigned bit = 1u << f->lane;
    const char* what = kind == 1 ? "shuffle" : "__syncwarp";
    if (!(mask & bit)) abort_kernel(kLaunchFailed, fmt("%s with mask 0x%08x leaves out the calling lane %d", what, mask, f->lane));
    if (unsigned bad = mask & ~w.exists)
        abort_kernel(kLaunchFailed, fmt("%s mask 0x%08x names lane %d, which does not exist (the block has %d threads)", what, mask,
                                        __builtin_ctz(bad), L->nthreads));
    if (unsigned bad = mask & ~w.live)
        abort_kernel(kLaunchFailed, fmt("%s mask 0x%08x names lane %d, which has exited", what, mask, __builtin_ctz(bad)));
    if (w.arrived == 0) {
        w.mask = mask;
        w.kind = kind;
    } else if (w.mask != mask || w.kind != kind) {
        abort_kernel(kLaunchFailed, fmt("lanes of warp %d meet at different warp barriers: a %s with mask 0x%08x and a %s with mask 0x%08x", f->warp,
                                        w.kind == 1 ? "shuffle" : "__syncwarp", w.mask, what, mask));
    }
    if (src >= 32 || (src >= 0 && !(mask & (1u << src))))
        abort_kernel(kLaunchFailed, fmt("lane %d reads lane %d, outside the shuffle's mask 0x%08x", f->lane, src, mask));
    if (mine) memcpy(w.vals[f->lane], mine, (size_t)size);
    w.req[f->lane] = {out, src, size};
    w.arrived |= bit;
    if ((w.arrived & w.mask) != w.mask) {
        f->state = kWaitWarp;
        yield(f);
        return;
    }
    unsigned a = w.arrived;
    w.arrived = 0;
    int base = f->warp * 32;
    for (int ln = 0; ln < 32; ln++) {
        if (!(a & (1u << ln))) continue;
        Warp::Req r = w.req[ln];
        if (r.out) memcpy(r.out, w.vals[r.src < 0 ? ln : r.src], (size_t)r.size);
        Fiber& g = L->fibers[base + ln];
        if (g.state == kWaitWarp) g.state = kReady;
    }
}

static void run_block(bool reverse) {
    int n = L->nthreads;
    for (;;) {
        bool progressed = false;
        for (int k = 0; k < n; k++) {
            Fiber* f = &L->fibers[reverse ? n - 1 - k : k];
            if (f->state != kReady) continue;
            emu_cur = &f->t;
            ctx_switch(&L->sched, &f->ctx);
            emu_cur = nullptr;
            progressed = true;
            if (L->failed) return;
        }
        if (L->live == 0) return;
        if (!progressed) {
            int nb = 0, nw = 0;
            std::string warps;
            for (int i = 0; i < n; i++) nb += L->fibers[i].state == kWaitBlock, nw += L->fibers[i].state == kWaitWarp;
            for (int i = 0; i < L->nwarps; i++)
                if (L->warps[i].arrived)
                    warps += fmt(" warp %d has lanes 0x%08x waiting for 0x%08x;", i, L->warps[i].arrived, L->warps[i].mask);
            L->failed = true;
            L->code = kLaunchFailed;
            L->err = fmt("kernel %s, block (%u,%u,%u): deadlock: %d threads wait at __syncthreads, %d at a warp barrier;%s (divergent barriers)",
                         L->f->desc->name, emu_block_idx.x, emu_block_idx.y, emu_block_idx.z, nb, nw, warps.c_str());
            return;
        }
    }
}

// ------------------------------------------------------------------ faults
static sigjmp_buf g_jmp;
static volatile sig_atomic_t g_in_kernel = 0;
static pthread_t g_thread;
static struct sigaction g_old[3];
static const int kSigs[3] = {SIGSEGV, SIGBUS, SIGFPE};
static void* volatile g_fault_addr;
static volatile int g_fault_sig, g_fault_write;

static void on_fault(int sig, siginfo_t* si, void* uc) {
    if (g_in_kernel && pthread_equal(pthread_self(), g_thread)) {
        g_fault_addr = si->si_addr;
        g_fault_sig = sig;
        g_fault_write = -1;
#if defined(__x86_64__)
        if (sig == SIGSEGV) g_fault_write = (((ucontext_t*)uc)->uc_mcontext.gregs[REG_ERR] & 2) != 0;
#endif
        g_in_kernel = 0;
        siglongjmp(g_jmp, 1);
    }
    // Not a kernel's fault (another thread of the process): the handler
    // that was there before gets it.
    for (int i = 0; i < 3; i++)
        if (kSigs[i] == sig) {
            if (g_old[i].sa_flags & SA_SIGINFO) {
                g_old[i].sa_sigaction(sig, si, uc);
            } else if (g_old[i].sa_handler == SIG_DFL || g_old[i].sa_handler == SIG_IGN) {
                sigaction(sig, &g_old[i], nullptr); // the instruction faults again, into it
            } else {
                g_old[i].sa_handler(sig);
            }
        }
}

static void handlers(bool on) {
    if (on) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_fault;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
        sigemptyset(&sa.sa_mask);
        for (int i = 0; i < 3; i++) sigaction(kSigs[i], &sa, &g_old[i]);
    } else {
        for (int i = 0; i < 3; i++) sigaction(kSigs[i], &g_old[i], nullptr);
    }
}

static std::string describe_fault() {
    uintptr_t a = (uintptr_t)g_fault_addr;
    if (g_fault_sig == SIGFPE) return "arithmetic exception (an integer division by zero?)";
    const char* rw = g_fault_write == 1 ? "write" : g_fault_write == 0 ? "read" : "access";
    std::string at;
    size_t per = stack_size() + page();
    if (a >= (uintptr_t)g_dyn_end && a < (uintptr_t)g_dyn_end + page())
        at = fmt("%zu bytes past the end of the %zu bytes of dynamic shared memory", (size_t)(a - (uintptr_t)g_dyn_end) + 0, L->dyn_bytes);
    else if (a >= (uintptr_t)g_stat + g_arena && a < (uintptr_t)g_stat + g_arena + page())
        at = "past the end of static shared memory";
    else if (a >= (uintptr_t)g_stacks && a < (uintptr_t)g_stacks + per * kMaxThreads && (a - (uintptr_t)g_stacks) % per < page())
        at = fmt("a thread's stack overflowed its %zu KiB (SEQDIFF_CUDA_EMU_STACK_KIB)", stack_size() >> 10);
    else
        at = where(a);
    return fmt("invalid %s at 0x%lx: %s", rw, (unsigned long)a, at.c_str());
}

// ------------------------------------------------------------------ launch
static uint64_t splitmix(uint64_t* s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t seed() {
    static uint64_t s = [] {
        const char* e = getenv("SEQDIFF_CUDA_EMU_SEED");
        return e && *e ? strtoull(e, nullptr, 10) : 1;
    }();
    return s;
}

struct LaunchArgs {
    Launch* l;
    int rc;
};

static void run_launch(void* p) {
    LaunchArgs* a = (LaunchArgs*)p;
    Launch* l = a->l;
    L = l;
    uint64_t nb = (uint64_t)l->grid[0] * l->grid[1] * l->grid[2];
    std::vector<uint32_t> order(nb);
    for (uint64_t i = 0; i < nb; i++) order[i] = (uint32_t)i;
    uint64_t st = seed() * 0x2545F4914F6CDD1Dull + l->seq;
    for (uint64_t i = nb; i > 1; i--) std::swap(order[i - 1], order[splitmix(&st) % i]);
    std::vector<Fiber> fibers(l->nthreads);
    std::vector<Warp> warps(l->nwarps);
    l->fibers = fibers.data();
    l->warps = warps.data();
    l->dyn = g_dyn_end - ((l->dyn_bytes + 15) & ~(size_t)15);
    emu_block_dim = {l->block[0], l->block[1], l->block[2]};
    emu_grid_dim = {l->grid[0], l->grid[1], l->grid[2]};
    size_t per = stack_size() + page();
    handlers(true);
    g_thread = pthread_self();
    if (sigsetjmp(g_jmp, 1)) {
        handlers(false);
        Launch* lf = L;
        std::string who_ = emu_cur ? who(cur()) : fmt("kernel %s", lf->f->desc->name);
        emu_cur = nullptr;
        a->rc = make_sticky(kIllegalAddress, who_ + ": " + describe_fault() + fmt(" (launch %llu, SEQDIFF_CUDA_EMU_SEED %llu)", lf->seq,
                                                                                   (unsigned long long)seed()));
        L = nullptr;
        return;
    }
    for (uint64_t k = 0; k < nb && !l->failed; k++) {
        uint32_t b = order[k];
        emu_block_idx = {b % l->grid[0], (b / l->grid[0]) % l->grid[1], (uint32_t)(b / ((uint64_t)l->grid[0] * l->grid[1]))};
        memset(l->stat, 0xFF, l->stat_used);
        if (l->dyn_bytes) memset(l->dyn, 0xFF, l->dyn_bytes);
        for (int w = 0; w < l->nwarps; w++) {
            int lanes = l->nthreads - 32 * w < 32 ? l->nthreads - 32 * w : 32;
            unsigned m = lanes == 32 ? 0xffffffffu : (1u << lanes) - 1;
            warps[w].exists = warps[w].live = m;
            warps[w].arrived = 0;
        }
        for (int i = 0; i < l->nthreads; i++) {
            Fiber& f = fibers[i];
            f.t.tid = {i % l->block[0], (i / l->block[0]) % l->block[1], i / (l->block[0] * l->block[1])};
            f.state = kReady;
            f.lane = i % 32;
            f.warp = i / 32;
            ctx_init(&f.ctx, g_stacks + i * per + page(), stack_size(), fiber_entry);
        }
        l->live = l->nthreads;
        l->arrived_block = 0;
        g_in_kernel = 1;
        run_block(splitmix(&st) & 1);
        g_in_kernel = 0;
    }
    handlers(false);
    a->rc = l->failed ? make_sticky(l->code, l->err + fmt(" (launch %llu, SEQDIFF_CUDA_EMU_SEED %llu)", l->seq, (unsigned long long)seed())) : 0;
    L = nullptr;
}

int launch(Function* f, const unsigned grid[3], const unsigned block[3], unsigned smem, void** params) {
    const emu_kernel_desc* d = f->desc;
    for (int i = 0; i < 3; i++)
        if (grid[i] == 0 || block[i] == 0)
            return fail(kInvalidValue, fmt("launch %s: grid (%u,%u,%u) block (%u,%u,%u) has a zero dimension", d->name, grid[0], grid[1], grid[2],
                                           block[0], block[1], block[2]));
    uint64_t nt = (uint64_t)block[0] * block[1] * block[2];
    if (block[0] > 1024 || block[1] > 1024 || block[2] > 64 || nt > (uint64_t)kMaxThreads)
        return fail(kInvalidValue, fmt("launch %s: block (%u,%u,%u) is more than the 1024 threads (1024, 1024, 64) a block may have", d->name, block[0],
                                       block[1], block[2]));
    if (grid[1] > 65535 || grid[2] > 65535 || grid[0] > 2147483647u)
        return fail(kInvalidValue, fmt("launch %s: grid (%u,%u,%u) exceeds (2^31-1, 65535, 65535)", d->name, grid[0], grid[1], grid[2]));
    if ((uint64_t)grid[0] * grid[1] * grid[2] > (1ull << 31))
        return fail(kInvalidValue, fmt("launch %s: the emulator runs at most 2^31 blocks", d->name));
    if ((int)smem > f->max_dynamic)
        return fail(kInvalidValue, fmt("launch %s: %u bytes of dynamic shared memory with %u static; the kernel allows %d dynamic "
                                       "(raise CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES first)",
                                       d->name, smem, d->static_shared, f->max_dynamic));
    // Parameters: copied (CUDA copies them at launch); a pointer must be
    // null or device memory.
    std::vector<unsigned char> store(16 * (size_t)(d->nparams + 1));
    std::vector<void*> ptrs(d->nparams + 1);
    for (int i = 0; i < d->nparams; i++) {
        if (d->sizes[i] > 16) return fail(kInvalidValue, fmt("launch %s: parameter %d is %u bytes; the emulator takes at most 16", d->name, i, d->sizes[i]));
        if (!params[i]) return fail(kInvalidValue, fmt("launch %s: parameter %d is a null pointer in kernelParams", d->name, i));
        memcpy(&store[16 * i], params[i], d->sizes[i]);
        ptrs[i] = &store[16 * i];
        if (d->ptrs[i]) {
            uintptr_t v;
            memcpy(&v, params[i], sizeof v);
            if (v != 0 && !find(v, 0))
                return fail(kInvalidValue, fmt("launch %s: parameter %d (a pointer) is 0x%lx, which is %s", d->name, i, (unsigned long)v, where(v).c_str()));
        }
    }
    if (!setup()) return fail(kOutOfMemory, "launch: cannot map the fiber stacks");
    Launch l;
    l.f = f;
    l.params = ptrs.data();
    memcpy(l.grid, grid, sizeof l.grid);
    memcpy(l.block, block, sizeof l.block);
    l.nthreads = (int)nt;
    l.nwarps = (int)((nt + 31) / 32);
    l.stat = g_stat;
    l.dyn_bytes = smem;
    l.shared_limit = (size_t)d->static_shared + (size_t)f->max_dynamic;
    if (l.shared_limit < (size_t)kSharedDefault) l.shared_limit = kSharedDefault;
    l.seq = ++g_launches;
    LaunchArgs a{&l, 0};
    on_big_stack(run_launch, &a);
    return a.rc;
}

} // namespace emu

using namespace emu;

// ------------------------------------------------------------------ what kernels call
EMU_EXPORT int emu_lane_id(void) { return cur()->lane; }
EMU_EXPORT void emu_syncthreads(void) {
    Fiber* f = cur();
    L->arrived_block++;
    if (L->arrived_block == L->live) {
        release_block();
        return;
    }
    f->state = kWaitBlock;
    yield(f);
}
EMU_EXPORT void emu_syncwarp(unsigned mask) { warp_barrier(mask, 2, nullptr, nullptr, 0, -1); }
EMU_EXPORT void emu_shfl(unsigned mask, const void* mine, void* out, int size, int src) { warp_barrier(mask, 1, mine, out, size, src); }
EMU_EXPORT void* emu_shared_static(int key, size_t bytes, size_t align) {
    for (auto& kv : L->stat_keys)
        if (kv.first == key) return L->stat + kv.second;
    size_t off = (L->stat_used + align - 1) / align * align;
    if (off + bytes + L->dyn_bytes > L->shared_limit)
        abort_kernel(kLaunchOutOfResources, fmt("shared memory: %zu static + %zu dynamic bytes > the %zu this launch may use", off + bytes, L->dyn_bytes,
                                                L->shared_limit));
    L->stat_keys.push_back({key, off});
    L->stat_used = off + bytes;
    memset(L->stat + off, 0xFF, bytes);
    return L->stat + off;
}
EMU_EXPORT void* emu_shared_dynamic(void) { return L->dyn; }
EMU_EXPORT void emu_trap(const char* what) { abort_kernel(kLaunchFailed, what); }
