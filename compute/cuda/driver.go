//go:build linux && (amd64 || arm64)

package cuda

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// The three libraries are bound once per process: function pointers from
// dlsym, called with purego.SyscallN (no reflection, no allocation).

// cuResult is CUresult, nvrtcResult or cublasStatus_t: 0 is success.
type cuResult uint32

// resultOf reads a C enum return value: the enums are 32-bit and the
// ABI leaves the register's upper half unspecified.
func resultOf(r uintptr) cuResult { return cuResult(uint32(r)) }

type driverAPI struct {
	path string
	// Optional (driver 12.4+): a kernel's parameter sizes, to check launches.
	cuFuncGetParamInfo uintptr
	// Set by bind, in the order below.
	cuInit, cuDriverGetVersion, cuDeviceGetCount, cuDeviceGet, cuDeviceGetName,
	cuDeviceGetAttribute, cuDeviceTotalMem, cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRelease,
	cuCtxSetCurrent, cuCtxSynchronize, cuMemAlloc, cuMemFree, cuMemcpyHtoD, cuMemcpyDtoH,
	cuMemcpyDtoD, cuMemsetD32, cuModuleLoadData, cuModuleGetFunction, cuFuncSetAttribute,
	cuLaunchKernel, cuGetErrorName, cuGetErrorString, cuModuleUnload, cuFuncGetAttribute uintptr
}

var driverSyms = []string{
	"cuInit", "cuDriverGetVersion", "cuDeviceGetCount", "cuDeviceGet", "cuDeviceGetName",
	"cuDeviceGetAttribute", "cuDeviceTotalMem_v2", "cuDevicePrimaryCtxRetain", "cuDevicePrimaryCtxRelease_v2",
	"cuCtxSetCurrent", "cuCtxSynchronize", "cuMemAlloc_v2", "cuMemFree_v2", "cuMemcpyHtoD_v2", "cuMemcpyDtoH_v2",
	"cuMemcpyDtoD_v2", "cuMemsetD32_v2", "cuModuleLoadData", "cuModuleGetFunction", "cuFuncSetAttribute",
	"cuLaunchKernel", "cuGetErrorName", "cuGetErrorString", "cuModuleUnload", "cuFuncGetAttribute",
}

type nvrtcAPI struct {
	path string
	// Optional (NVRTC 11.2+): the architectures this NVRTC can target.
	nvrtcGetNumSupportedArchs, nvrtcGetSupportedArchs uintptr
	nvrtcVersion, nvrtcCreateProgram, nvrtcCompileProgram, nvrtcGetProgramLogSize,
	nvrtcGetProgramLog, nvrtcGetCUBINSize, nvrtcGetCUBIN, nvrtcGetPTXSize, nvrtcGetPTX,
	nvrtcDestroyProgram, nvrtcGetErrorString uintptr
}

var nvrtcSyms = []string{
	"nvrtcVersion", "nvrtcCreateProgram", "nvrtcCompileProgram", "nvrtcGetProgramLogSize",
	"nvrtcGetProgramLog", "nvrtcGetCUBINSize", "nvrtcGetCUBIN", "nvrtcGetPTXSize", "nvrtcGetPTX",
	"nvrtcDestroyProgram", "nvrtcGetErrorString",
}

type cublasAPI struct {
	path string
	cublasCreate, cublasDestroy, cublasSetMathMode, cublasSetStream, cublasGetVersion,
	cublasSgemm uintptr
}

var cublasSyms = []string{
	"cublasCreate_v2", "cublasDestroy_v2", "cublasSetMathMode", "cublasSetStream_v2", "cublasGetVersion_v2",
	"cublasSgemm_v2",
}

// bindSyms fills the uintptr fields of api (a pointer to a struct whose
// first field is path, then one uintptr per name) from lib.
func bindSyms(lib uintptr, names []string, fns []*uintptr) error {
	for i, n := range names {
		p, err := purego.Dlsym(lib, n)
		if err != nil {
			return fmt.Errorf("symbol %s: %w", n, err)
		}
		*fns[i] = p
	}
	return nil
}

func (d *driverAPI) fields() []*uintptr {
	return []*uintptr{&d.cuInit, &d.cuDriverGetVersion, &d.cuDeviceGetCount, &d.cuDeviceGet, &d.cuDeviceGetName,
		&d.cuDeviceGetAttribute, &d.cuDeviceTotalMem, &d.cuDevicePrimaryCtxRetain, &d.cuDevicePrimaryCtxRelease,
		&d.cuCtxSetCurrent, &d.cuCtxSynchronize, &d.cuMemAlloc, &d.cuMemFree, &d.cuMemcpyHtoD, &d.cuMemcpyDtoH,
		&d.cuMemcpyDtoD, &d.cuMemsetD32, &d.cuModuleLoadData, &d.cuModuleGetFunction, &d.cuFuncSetAttribute,
		&d.cuLaunchKernel, &d.cuGetErrorName, &d.cuGetErrorString, &d.cuModuleUnload, &d.cuFuncGetAttribute}
}

func (n *nvrtcAPI) fields() []*uintptr {
	return []*uintptr{&n.nvrtcVersion, &n.nvrtcCreateProgram, &n.nvrtcCompileProgram, &n.nvrtcGetProgramLogSize,
		&n.nvrtcGetProgramLog, &n.nvrtcGetCUBINSize, &n.nvrtcGetCUBIN, &n.nvrtcGetPTXSize, &n.nvrtcGetPTX,
		&n.nvrtcDestroyProgram, &n.nvrtcGetErrorString}
}

func (c *cublasAPI) fields() []*uintptr {
	return []*uintptr{&c.cublasCreate, &c.cublasDestroy, &c.cublasSetMathMode, &c.cublasSetStream, &c.cublasGetVersion,
		&c.cublasSgemm}
}

// openFirst dlopens the candidates of names in search order and binds
// syms; the first that opens and has every symbol wins. pre, when set, is
// called with the folder of a candidate before it is opened (to preload
// a companion library from the same folder).
func openFirst(env searchEnv, what string, names, syms []string, fns []*uintptr, pre func(dir string)) (string, error) {
	var tried []string
	for _, cand := range env.findLibrary(names) {
		if pre != nil && strings.Contains(cand, "/") {
			pre(filepath.Dir(cand))
		}
		lib, err := purego.Dlopen(cand, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err != nil {
			if strings.Contains(cand, "/") { // a bare name not found says nothing new
				tried = append(tried, fmt.Sprintf("%s: %v", cand, err))
			}
			continue
		}
		if err := bindSyms(lib, syms, fns); err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v", cand, err))
			purego.Dlclose(lib)
			continue
		}
		return cand, nil
	}
	return "", &errNoLibrary{what: what, names: names, tried: tried}
}

// preloadFrom dlopens the first of names found in dir (errors ignored:
// the main library's own load reports what is missing).
func preloadFrom(dir string, patterns ...string) {
	for _, pat := range patterns {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		for _, p := range m {
			if _, err := purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_GLOBAL); err == nil {
				return
			}
		}
	}
}

var (
	driverOnce = sync.OnceValues(func() (*driverAPI, error) {
		d := &driverAPI{}
		p, err := openFirst(osSearchEnv(), "the CUDA driver (libcuda.so.1, from the NVIDIA driver)", driverNames, driverSyms, d.fields(), nil)
		d.path = p
		if err == nil { // dlopen of a loaded library returns it again
			if lib, e := purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_GLOBAL); e == nil {
				d.cuFuncGetParamInfo, _ = purego.Dlsym(lib, "cuFuncGetParamInfo")
			}
		}
		return d, err
	})
	nvrtcOnce = sync.OnceValues(func() (*nvrtcAPI, error) {
		n := &nvrtcAPI{}
		p, err := openFirst(osSearchEnv(), "NVRTC (libnvrtc.so, from the CUDA toolkit or the nvidia-cuda-nvrtc wheel)", nvrtcNames, nvrtcSyms, n.fields(),
			func(dir string) { preloadFrom(dir, "libnvrtc-builtins.so.*") })
		n.path = p
		if err == nil { // optional symbols (NVRTC 11.2+); dlopen of a loaded library returns it again
			if lib, e := purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_GLOBAL); e == nil {
				n.nvrtcGetNumSupportedArchs, _ = purego.Dlsym(lib, "nvrtcGetNumSupportedArchs")
				n.nvrtcGetSupportedArchs, _ = purego.Dlsym(lib, "nvrtcGetSupportedArchs")
			}
		}
		return n, err
	})
	cublasOnce = sync.OnceValues(func() (*cublasAPI, error) {
		c := &cublasAPI{}
		p, err := openFirst(osSearchEnv(), "cuBLAS (libcublas.so, from the CUDA toolkit or the nvidia-cublas wheel)", cublasNames, cublasSyms, c.fields(),
			func(dir string) { preloadFrom(dir, cublasLtNames...) })
		c.path = p
		return c, err
	})
)

// call runs a C function of up to 11 integer/pointer arguments.
//
// C may write through a pointer argument after the goroutine stack has
// moved, so uintptrescapes makes every uintptr(unsafe.Pointer(p)) written
// in a call expression move *p to the heap and keeps it alive for the
// call; it also stops call from being inlined, which would drop that.
// Such conversions must stay in the call expression itself.
//
//go:uintptrescapes
func call(fn uintptr, args ...uintptr) cuResult {
	r, _, _ := purego.SyscallN(fn, args...)
	return resultOf(r)
}

// cString reads a NUL-terminated C string.
func cString(p *byte) string {
	if p == nil {
		return ""
	}
	var sb strings.Builder
	for i := 0; i < 4096; i++ {
		c := *(*byte)(unsafe.Add(unsafe.Pointer(p), i))
		if c == 0 {
			break
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

// cBytes is s as a NUL-terminated byte slice.
func cBytes(s string) []byte { return append([]byte(s), 0) }

// errString describes a CUresult: "CUDA_ERROR_OUT_OF_MEMORY (out of memory)".
func (d *driverAPI) errString(r cuResult) string {
	var name, desc *byte
	call(d.cuGetErrorName, uintptr(r), uintptr(unsafe.Pointer(&name)))
	call(d.cuGetErrorString, uintptr(r), uintptr(unsafe.Pointer(&desc)))
	n, s := cString(name), cString(desc)
	if n == "" {
		return fmt.Sprintf("CUresult %d", r)
	}
	return fmt.Sprintf("%s (%s)", n, s)
}

func (n *nvrtcAPI) errString(r cuResult) string {
	p, _, _ := purego.SyscallN(n.nvrtcGetErrorString, uintptr(r))
	s := cString(*(**byte)(unsafe.Pointer(&p)))
	if s == "" {
		return fmt.Sprintf("nvrtcResult %d", r)
	}
	return s
}

// cublasStatusNames: cublas_api.h's cublasStatus_t values.
var cublasStatusNames = map[cuResult]string{
	1: "CUBLAS_STATUS_NOT_INITIALIZED", 3: "CUBLAS_STATUS_ALLOC_FAILED", 7: "CUBLAS_STATUS_INVALID_VALUE",
	8: "CUBLAS_STATUS_ARCH_MISMATCH", 11: "CUBLAS_STATUS_MAPPING_ERROR", 13: "CUBLAS_STATUS_EXECUTION_FAILED",
	14: "CUBLAS_STATUS_INTERNAL_ERROR", 15: "CUBLAS_STATUS_NOT_SUPPORTED", 16: "CUBLAS_STATUS_LICENSE_ERROR",
}

func cublasErrString(r cuResult) string {
	if s, ok := cublasStatusNames[r]; ok {
		return s
	}
	return fmt.Sprintf("cublasStatus %d", r)
}

// nvrtcVersion is NVRTC's (major, minor).
func (n *nvrtcAPI) version() (int, int) {
	var maj, mnr int32
	call(n.nvrtcVersion, uintptr(unsafe.Pointer(&maj)), uintptr(unsafe.Pointer(&mnr)))
	return int(maj), int(mnr)
}

// supportedArchs lists the compute capabilities (major*10+minor) this
// NVRTC can compile for; nil when it cannot say (before 11.2).
func (n *nvrtcAPI) supportedArchs() []int {
	if n.nvrtcGetNumSupportedArchs == 0 || n.nvrtcGetSupportedArchs == 0 {
		return nil
	}
	var k int32
	if call(n.nvrtcGetNumSupportedArchs, uintptr(unsafe.Pointer(&k))) != 0 || k <= 0 || k > 1024 {
		return nil
	}
	a := make([]int32, k)
	if call(n.nvrtcGetSupportedArchs, uintptr(unsafe.Pointer(&a[0]))) != 0 {
		return nil
	}
	out := make([]int, k)
	for i, v := range a {
		out[i] = int(v)
	}
	return out
}

// compile runs NVRTC over src with opts; it returns the CUBIN when the
// target is a real architecture (sm_XX), else the PTX, and the log.
func (n *nvrtcAPI) compile(src, name string, opts []string) (image []byte, log string, err error) {
	var prog uintptr
	csrc, cname := cBytes(src), cBytes(name)
	if r := call(n.nvrtcCreateProgram, uintptr(unsafe.Pointer(&prog)), uintptr(unsafe.Pointer(&csrc[0])),
		uintptr(unsafe.Pointer(&cname[0])), 0, 0, 0); r != 0 {
		return nil, "", fmt.Errorf("nvrtcCreateProgram: %s", n.errString(r))
	}
	defer call(n.nvrtcDestroyProgram, uintptr(unsafe.Pointer(&prog)))
	copts := make([][]byte, len(opts))
	ptrs := make([]*byte, len(opts)+1)
	for i, o := range opts {
		copts[i] = cBytes(o)
		ptrs[i] = &copts[i][0]
	}
	rc := call(n.nvrtcCompileProgram, prog, uintptr(len(opts)), uintptr(unsafe.Pointer(&ptrs[0])))
	runtime.KeepAlive(copts)
	runtime.KeepAlive(csrc)
	var logSize uintptr
	call(n.nvrtcGetProgramLogSize, prog, uintptr(unsafe.Pointer(&logSize)))
	if logSize > 1 {
		buf := make([]byte, logSize)
		call(n.nvrtcGetProgramLog, prog, uintptr(unsafe.Pointer(&buf[0])))
		log = strings.TrimRight(string(buf), "\x00\n ")
	}
	if rc != 0 {
		return nil, log, fmt.Errorf("nvrtcCompileProgram %s: %s:\n%s", name, n.errString(rc), log)
	}
	cubin := false
	for _, o := range opts {
		if strings.HasPrefix(o, "--gpu-architecture=sm_") {
			cubin = true
		}
	}
	sizeFn, getFn := n.nvrtcGetPTXSize, n.nvrtcGetPTX
	if cubin {
		sizeFn, getFn = n.nvrtcGetCUBINSize, n.nvrtcGetCUBIN
	}
	var size uintptr
	if r := call(sizeFn, prog, uintptr(unsafe.Pointer(&size))); r != 0 {
		return nil, log, fmt.Errorf("nvrtc image size: %s", n.errString(r))
	}
	image = make([]byte, size)
	if size > 0 {
		if r := call(getFn, prog, uintptr(unsafe.Pointer(&image[0]))); r != 0 {
			return nil, log, fmt.Errorf("nvrtc image: %s", n.errString(r))
		}
	}
	return image, log, nil
}
