// nccl.cpp: the libnccl.so.2 stand-in (a link to this object). The ranks
// of a communicator are processes on this machine, each with its own
// emulated device (mpirun -np N of a backend on the emulator): they meet in
// a POSIX shared-memory segment named by the unique id. ncclAllReduce
// sums the ranks' buffers in rank order, chunk by chunk, so every rank
// gets the same bits, as NCCL guarantees.
//
// It checks what NCCL leaves undefined: an id not made by ncclGetUniqueId,
// a rank outside the communicator, ranks that disagree on its size, device
// buffers that are not live allocations of the count given, a
// communicator used after ncclCommDestroy, one never destroyed (a leak at
// the last context release), and a peer that never arrives (a timeout
// instead of a hang: SEQDIFF_CUDA_EMU_NCCL_TIMEOUT seconds, default 600).
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <string>

#include "internal.h"

namespace {

using namespace emu;

enum Result : int {
    ncclSuccess = 0,
    ncclUnhandledCudaError = 1,
    ncclSystemError = 2,
    ncclInternalError = 3,
    ncclInvalidArgument = 4,
    ncclInvalidUsage = 5,
    ncclRemoteError = 6,
};

enum DataType : int { ncclInt32 = 2, ncclFloat32 = 7, ncclFloat64 = 8 };
enum RedOp : int { ncclSum = 0 };

constexpr int kIdBytes = 128;
constexpr char kMagic[16] = "seqdiff-emu-id1";
constexpr size_t kSlot = 1 << 20; // bytes per rank per chunk

// The segment the ranks share: a join count, a barrier, then one slot per
// rank.
struct Shared {
    std::atomic<int> nranks;
    std::atomic<int> joined;
    std::atomic<unsigned> count;
    std::atomic<unsigned> gen;
    std::atomic<int> aborted;
};
constexpr size_t kHeader = 256;

struct Comm {
    int nranks = 0, rank = 0;
    Shared* sh = nullptr;
    size_t len = 0;
    std::string name;
    std::atomic<int> async{0}; // an error a later call reports
};

std::set<Comm*> g_comms;
std::string g_last_error;

// ncclUniqueId, passed by value.
struct UniqueId {
    unsigned char b[kIdBytes];
};

struct LastInit {
    unsigned char id[kIdBytes];
    int nranks, rank, calls;
} g_last_init;

Result err(Result r, const std::string& why) {
    g_last_error = why;
    if (verbose()) fprintf(stderr, "cuda-emu nccl: %s\n", why.c_str());
    return r;
}

double timeout_s() {
    static double t = [] {
        const char* e = getenv("SEQDIFF_CUDA_EMU_NCCL_TIMEOUT");
        return e && *e ? atof(e) : 600.0;
    }();
    return t;
}

double now_s() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void pause_briefly(int spins) {
    if (spins < 1000) {
        sched_yield();
        return;
    }
    timespec ts{0, 50000}; // 50 µs: the other ranks need the cores
    nanosleep(&ts, nullptr);
}

// barrier waits for every rank of c; false on a timeout or an aborted peer.
bool barrier(Comm* c, const char* where) {
    Shared* s = c->sh;
    unsigned gen = s->gen.load();
    if (s->count.fetch_add(1) + 1 == (unsigned)c->nranks) {
        s->count.store(0);
        s->gen.fetch_add(1);
        return true;
    }
    double end = now_s() + timeout_s();
    for (int spins = 0; s->gen.load() == gen; spins++) {
        if (s->aborted.load()) {
            err(ncclRemoteError, fmt("%s: another rank aborted the communicator", where));
            return false;
        }
        if ((spins & 255) == 0 && now_s() > end) {
            err(ncclSystemError, fmt("%s: rank %d of %d waited %.0f s for the other ranks (SEQDIFF_CUDA_EMU_NCCL_TIMEOUT)", where,
                                     c->rank, c->nranks, timeout_s()));
            return false;
        }
        pause_briefly(spins);
    }
    return true;
}

size_t type_size(int t) {
    switch (t) {
    case ncclInt32: return 4;
    case ncclFloat32: return 4;
    case ncclFloat64: return 8;
    }
    return 0;
}

// sum_chunk adds the n elements of every rank's slot, in rank order, into
// dst.
template <typename T> void sum_chunk(T* dst, const char* slots, int nranks, size_t n) {
    for (size_t i = 0; i < n; i++) {
        T acc = ((const T*)slots)[i];
        for (int r = 1; r < nranks; r++) acc += ((const T*)(slots + r * kSlot))[i];
        dst[i] = acc;
    }
}

void unmap(Comm* c) {
    if (c->sh) munmap(c->sh, c->len);
    c->sh = nullptr;
}

Result check_comm(Comm* c, const char* fn) {
    if (!c) return err(ncclInvalidArgument, fmt("%s: a null communicator", fn));
    if (!g_comms.count(c)) return err(ncclInvalidArgument, fmt("%s: %p is not a live communicator (destroyed already?)", fn, (void*)c));
    return ncclSuccess;
}

} // namespace

EMU_EXPORT int ncclGetVersion(int* v) {
    if (!v) return err(ncclInvalidArgument, "ncclGetVersion: a null pointer");
    *v = 21805; // the NCCL API level this stands in for (2.18.5)
    return ncclSuccess;
}

EMU_EXPORT const char* ncclGetErrorString(int r) {
    switch (r) {
    case ncclSuccess: return "no error";
    case ncclUnhandledCudaError: return "unhandled cuda error (run with NCCL_DEBUG=INFO for details)";
    case ncclSystemError: return "unhandled system error (run with NCCL_DEBUG=INFO for details)";
    case ncclInternalError: return "internal error - please report this issue to the NCCL developers";
    case ncclInvalidArgument: return "invalid argument (run with NCCL_DEBUG=WARN for details)";
    case ncclInvalidUsage: return "invalid usage (run with NCCL_DEBUG=WARN for details)";
    case ncclRemoteError: return "remote process exited or there was a network error";
    }
    return "unknown result code";
}

EMU_EXPORT const char* ncclGetLastError(void* comm) {
    return g_last_error.c_str();
}

// ncclGetUniqueId: the magic, 16 random bytes (the segment's name) and the
// maker's pid.
EMU_EXPORT int ncclGetUniqueId(unsigned char* id) {
    if (!id) return err(ncclInvalidArgument, "ncclGetUniqueId: a null pointer");
    memset(id, 0, kIdBytes);
    memcpy(id, kMagic, sizeof kMagic);
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd < 0 || read(fd, id + 16, 16) != 16) {
        if (fd >= 0) close(fd);
        return err(ncclSystemError, "ncclGetUniqueId: cannot read /dev/urandom");
    }
    close(fd);
    int pid = getpid();
    memcpy(id + 32, &pid, sizeof pid);
    return ncclSuccess;
}

// ncclCommInitRank takes the id by value: 128 bytes on the stack (x86-64)
// or by reference to a copy (arm64). What arrived is kept for the test of
// the Go side's marshalling (seqdiff_emu_nccl_last_init).
EMU_EXPORT int ncclCommInitRank(Comm** out, int nranks, UniqueId id, int rank) {
    std::lock_guard<std::recursive_mutex> l(mu);
    memcpy(g_last_init.id, id.b, kIdBytes);
    g_last_init.nranks = nranks;
    g_last_init.rank = rank;
    g_last_init.calls++;
    if (!out) return err(ncclInvalidArgument, "ncclCommInitRank: a null communicator pointer");
    if (sticky) return err(ncclUnhandledCudaError, "ncclCommInitRank: the CUDA context has a sticky error");
    if (ctx_refs() == 0) return err(ncclInvalidUsage, "ncclCommInitRank: no CUDA context (no device was opened)");
    if (memcmp(id.b, kMagic, sizeof kMagic) != 0) return err(ncclInvalidArgument, "ncclCommInitRank: the id was not made by ncclGetUniqueId");
    if (nranks < 1) return err(ncclInvalidArgument, fmt("ncclCommInitRank: %d ranks", nranks));
    if (rank < 0 || rank >= nranks) return err(ncclInvalidArgument, fmt("ncclCommInitRank: rank %d of %d", rank, nranks));
    Comm* c = new Comm;
    c->nranks = nranks;
    c->rank = rank;
    if (nranks > 1) {
        char name[64] = "/seqdiff-emu-nccl-";
        for (int i = 0; i < 16; i++) snprintf(name + 18 + 2 * i, 3, "%02x", id.b[16 + i]);
        c->name = name;
        c->len = kHeader + (size_t)nranks * kSlot;
        int fd = shm_open(name, O_CREAT | O_RDWR, 0600);
        if (fd < 0 || ftruncate(fd, (off_t)c->len) != 0) {
            if (fd >= 0) close(fd);
            delete c;
            return err(ncclSystemError, fmt("ncclCommInitRank: shared memory %s: %s", name, strerror(errno)));
        }
        void* m = mmap(nullptr, c->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
        if (m == MAP_FAILED) {
            delete c;
            return err(ncclSystemError, fmt("ncclCommInitRank: mmap %s: %s", name, strerror(errno)));
        }
        c->sh = (Shared*)m;
        int want = 0;
        if (!c->sh->nranks.compare_exchange_strong(want, nranks) && want != nranks) {
            c->sh->aborted.store(1);
            unmap(c);
            delete c;
            return err(ncclInvalidUsage, fmt("ncclCommInitRank: rank %d says %d ranks, another rank said %d", rank, nranks, want));
        }
        c->sh->joined.fetch_add(1);
        bool ok = barrier(c, "ncclCommInitRank");
        if (rank == 0) shm_unlink(name); // every rank has it mapped now (or never will)
        if (!ok) {
            unmap(c);
            delete c;
            return ncclSystemError;
        }
    }
    g_comms.insert(c);
    *out = c;
    return ncclSuccess;
}

EMU_EXPORT int ncclCommDestroy(Comm* c) {
    std::lock_guard<std::recursive_mutex> l(mu);
    if (Result r = check_comm(c, "ncclCommDestroy")) return r;
    g_comms.erase(c);
    unmap(c);
    delete c;
    return ncclSuccess;
}

EMU_EXPORT int ncclCommAbort(Comm* c) {
    std::lock_guard<std::recursive_mutex> l(mu);
    if (Result r = check_comm(c, "ncclCommAbort")) return r;
    if (c->sh) c->sh->aborted.store(1);
    g_comms.erase(c);
    unmap(c);
    delete c;
    return ncclSuccess;
}

EMU_EXPORT int ncclCommCount(Comm* c, int* n) {
    std::lock_guard<std::recursive_mutex> l(mu);
    if (Result r = check_comm(c, "ncclCommCount")) return r;
    *n = c->nranks;
    return ncclSuccess;
}

EMU_EXPORT int ncclCommUserRank(Comm* c, int* rank) {
    std::lock_guard<std::recursive_mutex> l(mu);
    if (Result r = check_comm(c, "ncclCommUserRank")) return r;
    *rank = c->rank;
    return ncclSuccess;
}

EMU_EXPORT int ncclCommGetAsyncError(Comm* c, int* async) {
    std::lock_guard<std::recursive_mutex> l(mu);
    if (Result r = check_comm(c, "ncclCommGetAsyncError")) return r;
    *async = c->async.load();
    return ncclSuccess;
}

// ncclAllReduce runs at once (the emulator's stream is synchronous).
EMU_EXPORT int ncclAllReduce(const void* send, void* recv, size_t count, int dtype, int op, Comm* c, void* stream) {
    std::lock_guard<std::recursive_mutex> l(mu);
    if (Result r = check_comm(c, "ncclAllReduce")) return r;
    if (sticky) return err(ncclUnhandledCudaError, "ncclAllReduce: the CUDA context has a sticky error");
    size_t es = type_size(dtype);
    if (es == 0) return err(ncclInvalidArgument, fmt("ncclAllReduce: data type %d (the emulator has int32, float32 and float64)", dtype));
    if (op != ncclSum) return err(ncclInvalidArgument, fmt("ncclAllReduce: reduction %d (the emulator has ncclSum)", op));
    if (count == 0) return ncclSuccess;
    std::string e = check_range("ncclAllReduce sendbuff", (uintptr_t)send, count * es);
    if (e.empty()) e = check_range("ncclAllReduce recvbuff", (uintptr_t)recv, count * es);
    if (!e.empty()) return err(ncclInvalidArgument, e);
    if (c->nranks == 1) {
        if (send != recv) memmove(recv, send, count * es);
        return ncclSuccess;
    }
    char* slots = (char*)c->sh + kHeader;
    size_t per = kSlot / es;
    for (size_t off = 0; off < count; off += per) {
        size_t n = count - off < per ? count - off : per;
        memcpy(slots + (size_t)c->rank * kSlot, (const char*)send + off * es, n * es);
        if (!barrier(c, "ncclAllReduce")) return c->async = ncclSystemError;
        char* dst = (char*)recv + off * es;
        switch (dtype) {
        case ncclInt32: sum_chunk((int32_t*)dst, slots, c->nranks, n); break;
        case ncclFloat32: sum_chunk((float*)dst, slots, c->nranks, n); break;
        case ncclFloat64: sum_chunk((double*)dst, slots, c->nranks, n); break;
        }
        if (!barrier(c, "ncclAllReduce")) return c->async = ncclSystemError; // the slots are read before the next chunk
    }
    return ncclSuccess;
}

// seqdiff_emu_nccl_last_init copies what the last ncclCommInitRank call
// received (for the marshalling test) and returns the number of calls.
EMU_EXPORT int seqdiff_emu_nccl_last_init(unsigned char* id, int* nranks, int* rank) {
    std::lock_guard<std::recursive_mutex> l(mu);
    memcpy(id, g_last_init.id, kIdBytes);
    *nranks = g_last_init.nranks;
    *rank = g_last_init.rank;
    return g_last_init.calls;
}

namespace emu {
int live_comms() {
    std::lock_guard<std::recursive_mutex> l(mu);
    return (int)g_comms.size();
}
} // namespace emu
