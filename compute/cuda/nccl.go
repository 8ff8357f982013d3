//go:build linux && (amd64 || arm64)

package cuda

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
	"github.com/seqdiff/seqdiff/compute"
)

// NCCL (libnccl.so.2: the CUDA toolkit's, a system package's or the
// nvidia-nccl-cu12 wheel's, found like the other CUDA libraries) sums the
// gradients of a data-parallel run on the GPUs, one GPU per rank.

var ncclNames = []string{"libnccl.so.2", "libnccl.so"}

// UniqueID is ncclUniqueId: 128 opaque bytes that rank 0 makes and every
// rank passes, by value, to ncclCommInitRank.
type UniqueID struct {
	Internal [128]byte
}

type ncclAPI struct {
	path                                                               string
	ncclGetVersion, ncclGetUniqueId, ncclAllReduce, ncclCommDestroy    uintptr
	ncclCommAbort, ncclGetErrorString, ncclCommCount, ncclCommUserRank uintptr
	ncclGetLastError                                                   uintptr // NCCL 2.13+; 0 if absent
	// initRank is ncclCommInitRank, bound by purego.RegisterFunc: the id is
	// a 128-byte struct passed by value (on the stack on x86-64, by
	// reference to a copy on arm64), which SyscallN cannot place.
	initRank func(comm *uintptr, nranks int32, id UniqueID, rank int32) int32
}

var ncclSyms = []string{"ncclGetVersion", "ncclGetUniqueId", "ncclAllReduce", "ncclCommDestroy",
	"ncclCommAbort", "ncclGetErrorString", "ncclCommCount", "ncclCommUserRank"}

func (n *ncclAPI) fields() []*uintptr {
	return []*uintptr{&n.ncclGetVersion, &n.ncclGetUniqueId, &n.ncclAllReduce, &n.ncclCommDestroy,
		&n.ncclCommAbort, &n.ncclGetErrorString, &n.ncclCommCount, &n.ncclCommUserRank}
}

var ncclOnce = sync.OnceValues(func() (*ncclAPI, error) {
	n := &ncclAPI{}
	p, err := openFirst(osSearchEnv(), "NCCL (libnccl.so.2, from the CUDA toolkit, libnccl2 or the nvidia-nccl-cu12 wheel)", ncclNames, ncclSyms, n.fields(), nil)
	n.path = p
	if err != nil {
		return n, err
	}
	lib, err := purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_GLOBAL) // loaded already: the same handle
	if err != nil {
		return n, fmt.Errorf("NCCL %s: %w", p, err)
	}
	sym, err := purego.Dlsym(lib, "ncclCommInitRank")
	if err != nil {
		return n, fmt.Errorf("NCCL %s: %w", p, err)
	}
	purego.RegisterFunc(&n.initRank, sym)
	n.ncclGetLastError, _ = purego.Dlsym(lib, "ncclGetLastError")
	return n, nil
})

// NCCL's data types and reduction (nccl.h).
const (
	ncclFloat32 = 7
	ncclSum     = 0
)

// ncclResult is an ncclResult_t.
type ncclResult int32

// errString describes r, with NCCL's last error detail where it has one.
func (n *ncclAPI) errString(r ncclResult, comm uintptr) string {
	s := fmt.Sprintf("NCCL error %d", r)
	if p := cReturn(n.ncclGetErrorString, uintptr(r)); p != nil {
		s += " (" + cString(p) + ")"
	}
	if n.ncclGetLastError != 0 {
		if d := cString(cReturn(n.ncclGetLastError, comm)); d != "" {
			s += ": " + d
		}
	}
	return s
}

// cReturn calls a C function that returns a C string it owns.
func cReturn(fn uintptr, args ...uintptr) *byte {
	r, _, _ := purego.SyscallN(fn, args...)
	return *(**byte)(unsafe.Pointer(&r))
}

// version is NCCL's as major, minor, patch (ncclGetVersion's X*10000 +
// Y*100 + Z since 2.9; X*1000 + Y*100 + Z before).
func (n *ncclAPI) version() (int, int, int) {
	var v int32
	call(n.ncclGetVersion, uintptr(unsafe.Pointer(&v)))
	if v >= 10000 {
		return int(v / 10000), int(v % 10000 / 100), int(v % 100)
	}
	return int(v / 1000), int(v % 1000 / 100), int(v % 100)
}

// NCCL is one rank's NCCL communicator on a backend's GPU.
type NCCL struct {
	b     *Backend
	api   *ncclAPI
	comm  uintptr
	rank  int
	nrank int
}

var _ compute.CollectiveBackend = (*Backend)(nil)

// CollectiveID makes the NCCL unique id (ncclGetUniqueId) that rank 0
// sends to every rank.
func (b *Backend) CollectiveID() ([]byte, error) {
	api, err := ncclOnce()
	if err != nil {
		return nil, err
	}
	var id UniqueID
	if r := ncclResult(call(api.ncclGetUniqueId, uintptr(unsafe.Pointer(&id)))); r != 0 {
		return nil, fmt.Errorf("cuda: ncclGetUniqueId: %s", api.errString(r, 0))
	}
	return id.Internal[:], nil
}

// JoinCollective creates this rank's NCCL communicator on the backend's
// GPU (ncclCommInitRank): it returns once all nranks have joined with the
// same id.
func (b *Backend) JoinCollective(id []byte, nranks, rank int) (compute.Collective, error) {
	n, err := b.JoinNCCL(id, nranks, rank)
	if err != nil {
		return nil, err
	}
	return n, nil
}

// JoinNCCL is JoinCollective's concrete form.
func (b *Backend) JoinNCCL(id []byte, nranks, rank int) (*NCCL, error) {
	if len(id) != len(UniqueID{}.Internal) {
		return nil, fmt.Errorf("cuda: an NCCL unique id is %d bytes, got %d", len(UniqueID{}.Internal), len(id))
	}
	if nranks < 1 || rank < 0 || rank >= nranks {
		return nil, fmt.Errorf("cuda: NCCL rank %d of %d", rank, nranks)
	}
	api, err := ncclOnce()
	if err != nil {
		return nil, err
	}
	if err := b.Sync(); err != nil {
		return nil, err
	}
	var u UniqueID
	copy(u.Internal[:], id)
	n := &NCCL{b: b, api: api, rank: rank, nrank: nranks}
	b.enter() // NCCL takes the GPU from the current context
	defer runtime.UnlockOSThread()
	if r := api.initRank(&n.comm, int32(nranks), u, int32(rank)); r != 0 {
		return nil, fmt.Errorf("cuda: ncclCommInitRank (rank %d of %d): %s", rank, nranks, api.errString(ncclResult(r), 0))
	}
	return n, nil
}

// AllReduceSum sums x (float32) over the ranks in place, queued on the
// backend's stream after its kernels.
func (n *NCCL) AllReduceSum(x compute.F32) error {
	if x.N == 0 {
		return nil
	}
	if n.comm == 0 {
		return fmt.Errorf("cuda: NCCL all-reduce on a closed communicator")
	}
	b := n.b
	if b.err != nil {
		return b.err
	}
	b.enter()
	defer runtime.UnlockOSThread()
	if r := ncclResult(call(n.api.ncclAllReduce, x.Dev, x.Dev, uintptr(x.N), ncclFloat32, ncclSum, n.comm, 0)); r != 0 {
		return fmt.Errorf("cuda: ncclAllReduce of %d floats (rank %d of %d): %s", x.N, n.rank, n.nrank, n.api.errString(r, n.comm))
	}
	return nil
}

// Close destroys the communicator (ncclCommDestroy), after the work queued.
func (n *NCCL) Close() error {
	if n.comm == 0 {
		return nil
	}
	err := n.b.Sync()
	n.b.enter()
	defer runtime.UnlockOSThread()
	if r := ncclResult(call(n.api.ncclCommDestroy, n.comm)); r != 0 && err == nil {
		err = fmt.Errorf("cuda: ncclCommDestroy: %s", n.api.errString(r, 0))
	}
	n.comm = 0
	return err
}

// Abort ends the communicator at once (ncclCommAbort): for a failing run,
// whose peers may never reach the next collective.
func (n *NCCL) Abort() {
	if n.comm == 0 {
		return
	}
	n.b.enter()
	defer runtime.UnlockOSThread()
	call(n.api.ncclCommAbort, n.comm)
	n.comm = 0
}

// String names the library: "NCCL 2.21.5 (/usr/lib/x86_64-linux-gnu/libnccl.so.2)".
func (n *NCCL) String() string {
	a, b, c := n.api.version()
	return fmt.Sprintf("NCCL %d.%d.%d (%s)", a, b, c, n.api.path)
}
