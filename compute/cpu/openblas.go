//go:build (linux || darwin) && (amd64 || arm64) && !noopenblas

package cpu

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// openBLAS calls cblas_sgemm of a dynamically loaded OpenBLAS through
// purego, so one CGO_ENABLED=0 binary uses OpenBLAS where it is installed
// and gonum where it is not. OpenBLAS is set to one thread: the kernels
// split work over their own goroutines, and a threaded OpenBLAS called from
// several goroutines at once would oversubscribe the cores (and serialise
// on its thread-pool lock).
//
// It calls the Fortran entry sgemm_, whose arguments are all pointers, with
// purego.SyscallN: no reflection and no allocation per call (the
// reflect-based RegisterFunc path cost ~15 allocations a call, and
// attention makes ~10k small calls a layer).
type openBLAS struct {
	config   string
	corename string
	sgemmFn  uintptr
	args     sync.Pool // *gemmArgs
}

// gemmArgs is the memory the Fortran-style pointer arguments point to.
type gemmArgs struct {
	tA, tB        byte
	m, n, k       int32
	lda, ldb, ldc int32
	alpha, beta   float32
}

// Library names tried in order: Debian/Ubuntu's libopenblas0-pthread and
// -openmp, Fedora, and the plain development link. libblas.so.3 is tried
// last because on Debian it may be the slow reference BLAS; it is accepted
// only when it exports OpenBLAS's own symbols.
var openBLASNames = []string{
	"libopenblas.so.0",
	"libopenblasp-r0.so",
	"libopenblas.so",
	"libopenblasp.so.0",
	"libopenblaso.so.0",
	"libblas.so.3",
	"libopenblas.dylib",
	"/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
	"/usr/local/opt/openblas/lib/libopenblas.dylib",
}

var errNoOpenBLAS = errors.New("OpenBLAS not found")

// The library is loaded once per process; its thread setting is global anyway.
var openBLASOnce = sync.OnceValues(tryOpenBLAS)

func loadOpenBLAS() (sgemmer, error) {
	ob, err := openBLASOnce()
	if err != nil {
		return nil, err
	}
	return ob, nil
}

func tryOpenBLAS() (*openBLAS, error) {
	var errs []string
	for _, name := range openBLASNames {
		lib, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_LOCAL)
		if err != nil {
			continue
		}
		ob, err := bindOpenBLAS(lib)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", name, err))
			purego.Dlclose(lib)
			continue
		}
		return ob, nil
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w (%s)", errNoOpenBLAS, strings.Join(errs, "; "))
	}
	return nil, errNoOpenBLAS
}

func bindOpenBLAS(lib uintptr) (*openBLAS, error) {
	// Resolving OpenBLAS-only symbols tells OpenBLAS from the reference BLAS.
	for _, sym := range []string{"sgemm_", "openblas_get_config", "openblas_set_num_threads", "openblas_get_corename"} {
		if _, err := purego.Dlsym(lib, sym); err != nil {
			return nil, fmt.Errorf("no %s: not OpenBLAS", sym)
		}
	}
	fn, _ := purego.Dlsym(lib, "sgemm_")
	ob := &openBLAS{sgemmFn: fn}
	ob.args.New = func() any { return new(gemmArgs) }
	var getConfig, getCore func() string
	var setThreads func(int32)
	purego.RegisterLibFunc(&getConfig, lib, "openblas_get_config")
	purego.RegisterLibFunc(&getCore, lib, "openblas_get_corename")
	purego.RegisterLibFunc(&setThreads, lib, "openblas_set_num_threads")
	ob.config = strings.TrimSpace(getConfig())
	ob.corename = strings.TrimSpace(getCore())
	setThreads(1)
	return ob, nil
}

func (o *openBLAS) name() string { return "openblas " + o.corename + " (" + o.config + ")" }

func (o *openBLAS) sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scaleRows(c, m, n, ldc, beta)
		return
	}
	// Bounds the C library cannot check.
	need := func(rows, cols, ld int) int { return (rows-1)*ld + cols }
	ar, ac := m, k
	if tA {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB {
		br, bc = n, k
	}
	if len(a) < need(ar, ac, lda) || len(b) < need(br, bc, ldb) || len(c) < need(m, n, ldc) || lda < ac || ldb < bc || ldc < n {
		panic("cpu: sgemm operand too short")
	}
	// Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T:
	// swap the operands and m/n, keep the transpose flags.
	g := o.args.Get().(*gemmArgs)
	*g = gemmArgs{tA: 'N', tB: 'N', m: int32(m), n: int32(n), k: int32(k),
		lda: int32(lda), ldb: int32(ldb), ldc: int32(ldc), alpha: alpha, beta: beta}
	if tA {
		g.tA = 'T'
	}
	if tB {
		g.tB = 'T'
	}
	purego.SyscallN(o.sgemmFn,
		uintptr(unsafe.Pointer(&g.tB)), uintptr(unsafe.Pointer(&g.tA)),
		uintptr(unsafe.Pointer(&g.n)), uintptr(unsafe.Pointer(&g.m)), uintptr(unsafe.Pointer(&g.k)),
		uintptr(unsafe.Pointer(&g.alpha)),
		uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&g.ldb)),
		uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&g.lda)),
		uintptr(unsafe.Pointer(&g.beta)),
		uintptr(unsafe.Pointer(&c[0])), uintptr(unsafe.Pointer(&g.ldc)))
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	runtime.KeepAlive(c)
	o.args.Put(g)
}
