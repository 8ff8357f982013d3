//go:build linux && (amd64 || arm64)

package dist

import (
	"fmt"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/ebitengine/purego"
)

// api is the bound MPI functions.
type api struct {
	mu                                                                         sync.Mutex // MPI_THREAD_SERIALIZED: one call at a time, any thread
	initThread, commRank, commSize, allreduce, bcast, barrier, abort, finalize uintptr
}

var apiSyms = []string{"MPI_Init_thread", "MPI_Comm_rank", "MPI_Comm_size", "MPI_Allreduce",
	"MPI_Bcast", "MPI_Barrier", "MPI_Abort", "MPI_Finalize"}

func (a *api) fields() []*uintptr {
	return []*uintptr{&a.initThread, &a.commRank, &a.commSize, &a.allreduce, &a.bcast, &a.barrier, &a.abort, &a.finalize}
}

// call runs an MPI function and returns its int result (32-bit: the
// register's upper half is unspecified).
//
// uintptrescapes keeps every uintptr(unsafe.Pointer(p)) written in the
// call expression alive and unmoved for the call (C writes through them).
//
//go:uintptrescapes
func (a *api) call(fn uintptr, args ...uintptr) int32 {
	a.mu.Lock()
	defer a.mu.Unlock()
	r, _, _ := purego.SyscallN(fn, args...)
	return int32(uint32(r))
}

// mpiThreadSerialized is MPI_THREAD_SERIALIZED in both ABIs: Go moves
// goroutines between threads, so calls come from any thread, one at a time.
const mpiThreadSerialized = 2

func initMPI(cands []string) (*Comm, error) {
	var tried []string
	for _, p := range cands {
		lib, err := purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_GLOBAL) // Open MPI's plugins need its symbols global
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v", p, err))
			continue
		}
		a := &api{}
		fns := a.fields()
		var serr error
		for i, n := range apiSyms {
			if *fns[i], serr = purego.Dlsym(lib, n); serr != nil {
				break
			}
		}
		if serr != nil {
			tried = append(tried, fmt.Sprintf("%s: %v", p, serr))
			continue
		}
		h, err := selectHandles(func(n string) (uintptr, error) { return purego.Dlsym(lib, n) })
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v", p, err))
			continue
		}
		c := &Comm{api: a, h: h, path: p}
		return c, c.start()
	}
	return nil, fmt.Errorf("no MPI library loaded (tried %s)", strings.Join(tried, "; "))
}

func (c *Comm) start() error {
	var provided, rank, size int32
	a := c.api
	if rc := a.call(a.initThread, 0, 0, mpiThreadSerialized, uintptr(unsafe.Pointer(&provided))); rc != 0 {
		return errMPI("MPI_Init_thread", rc)
	}
	if provided < mpiThreadSerialized {
		// Open MPI and MPICH built without thread support still serialise
		// fine under the mutex; nothing here calls MPI concurrently.
		_ = provided
	}
	if rc := a.call(a.commRank, c.h.world, uintptr(unsafe.Pointer(&rank))); rc != 0 {
		return errMPI("MPI_Comm_rank", rc)
	}
	if rc := a.call(a.commSize, c.h.world, uintptr(unsafe.Pointer(&size))); rc != 0 {
		return errMPI("MPI_Comm_size", rc)
	}
	c.rank, c.size = int(rank), int(size)
	return nil
}

// AllreduceF32 sums buf over the ranks, in place.
func (c *Comm) AllreduceF32(buf []float32) error {
	if c == nil || len(buf) == 0 {
		return nil
	}
	for off := 0; off < len(buf); off += chunk {
		n := min(chunk, len(buf)-off)
		if rc := c.api.call(c.api.allreduce, c.h.inPlace, uintptr(unsafe.Pointer(&buf[off])), uintptr(n), c.h.float, c.h.sum, c.h.world); rc != 0 {
			return errMPI("MPI_Allreduce", rc)
		}
	}
	return nil
}

// AllreduceF64 sums buf over the ranks, in place.
func (c *Comm) AllreduceF64(buf []float64) error {
	if c == nil || len(buf) == 0 {
		return nil
	}
	for off := 0; off < len(buf); off += chunk {
		n := min(chunk, len(buf)-off)
		if rc := c.api.call(c.api.allreduce, c.h.inPlace, uintptr(unsafe.Pointer(&buf[off])), uintptr(n), c.h.double, c.h.sum, c.h.world); rc != 0 {
			return errMPI("MPI_Allreduce", rc)
		}
	}
	return nil
}

// Bcast copies root's buf to every rank's.
func (c *Comm) Bcast(buf []byte, root int) error {
	if c == nil || len(buf) == 0 {
		return nil
	}
	for off := 0; off < len(buf); off += chunk {
		n := min(chunk, len(buf)-off)
		if rc := c.api.call(c.api.bcast, uintptr(unsafe.Pointer(&buf[off])), uintptr(n), c.h.byte, uintptr(root), c.h.world); rc != 0 {
			return errMPI("MPI_Bcast", rc)
		}
	}
	return nil
}

// Barrier waits for every rank.
func (c *Comm) Barrier() error {
	if c == nil {
		return nil
	}
	if rc := c.api.call(c.api.barrier, c.h.world); rc != 0 {
		return errMPI("MPI_Barrier", rc)
	}
	return nil
}

// Abort ends every rank of the job with code (MPI_Abort does not return).
func (c *Comm) Abort(code int) {
	if c == nil {
		return
	}
	if c.dev != nil { // peers may be inside a device collective: end it without waiting
		c.dev.Abort()
		c.dev = nil
	}
	// MPICH's Hydra proxy can act on the abort before it forwards what
	// this rank last wrote to stderr, losing the error: give the
	// launcher's forwarder a moment to drain the pipe first.
	time.Sleep(abortGrace)
	c.api.call(c.api.abort, c.h.world, uintptr(code))
}

// abortGrace is how long Abort waits before MPI_Abort (see Abort).
const abortGrace = 300 * time.Millisecond

// Finalize shuts MPI down at a clean exit.
func (c *Comm) Finalize() error {
	if c == nil {
		return nil
	}
	derr := c.DetachDevice()
	if rc := c.api.call(c.api.finalize); rc != 0 {
		return errMPI("MPI_Finalize", rc)
	}
	return derr
}
