//go:build linux && (amd64 || arm64)

package cuda

import (
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"time"
	"unsafe"

	"github.com/seqdiff/seqdiff/compute"
)

// Options configure New.
type Options struct {
	// Device is the CUDA device ordinal (0: the first GPU).
	Device int
	// TF32 lets cuBLAS run float32 products on the TF32 tensor cores
	// (CUBLAS_TF32_TENSOR_OP_MATH): several times faster on Ampere and
	// Hopper, about 3e-4 relative error instead of float32's 1e-6.
	TF32 bool
	// Log, when set, receives one line when the kernels are compiled
	// (the first run on a machine takes tens of seconds) .
	Log io.Writer
}

// Backend implements compute.Backend on one CUDA device. See the package
// documentation for how errors surface (Sync) and for thread use.
type Backend struct {
	drv *driverAPI
	nv  *nvrtcAPI
	bl  *cublasAPI

	ordinal   int
	dev       int32
	ctx       uintptr
	mod       uintptr
	blas      uintptr
	fns       map[string]uintptr
	static    map[string]int   // static shared memory of each looked-up kernel
	params    map[string][]int // each kernel's parameter sizes, where the driver says
	devName   string
	arch      string // the device's, sm_XX
	target    string // what the kernels were compiled for: sm_XX, or compute_XX PTX
	cc        int
	sms       int
	smemOptin int
	tf32      bool
	drvVer    int
	nvMaj     int
	nvMin     int
	blasVer   int

	args *kargs // kernel parameters, reused; heap-allocated so C may hold its address
	err  error  // first error; returned by Sync

	fault    uintptr // device int32: FAULT_* bits set by kernels
	partials uintptr // device float64 [sumsqMaxBlocks+1] for SumSquares
	ropeHD   int
	ropeNPos int
	ropeCos  compute.F32
	ropeSin  compute.F32
	attnD    compute.F32 // AttentionBackward's D (B,H,T), grown on demand
}

var _ compute.Backend = (*Backend)(nil)

// kargs holds kernel parameters for cuLaunchKernel: each value in an
// 8-byte slot, ptrs[i] pointing at vals[i] (CUDA copies the parameter's
// own size from there; little-endian, so an int32 is the slot's low half);
// size[i] is the size the kernel must declare for it.
type kargs struct {
	vals  [24]uint64
	ptrs  [24]uintptr
	size  [24]uint8
	n     int
	alpha float32 // cublasSgemm's alpha and beta (host pointer mode)
	beta  float32
}

func newKargs() *kargs {
	a := new(kargs)
	for i := range a.vals {
		a.ptrs[i] = uintptr(unsafe.Pointer(&a.vals[i]))
	}
	return a
}

func (a *kargs) reset() *kargs { a.n = 0; return a }
func (a *kargs) put(v uint64, size uint8) *kargs {
	a.vals[a.n] = v
	a.size[a.n] = size
	a.n++
	return a
}
func (a *kargs) ptr(p uintptr) *kargs      { return a.put(uint64(p), 8) }
func (a *kargs) f32p(t compute.F32) *kargs { return a.ptr(t.Dev) }
func (a *kargs) i32p(t compute.I32) *kargs { return a.ptr(t.Dev) }
func (a *kargs) i32(v int) *kargs          { return a.put(uint64(uint32(int32(v))), 4) }
func (a *kargs) i64(v int) *kargs          { return a.put(uint64(int64(v)), 8) }
func (a *kargs) f32(v float32) *kargs      { return a.put(uint64(math.Float32bits(v)), 4) }
func (a *kargs) f64(v float64) *kargs      { return a.put(math.Float64bits(v), 8) }

// ErrNoDevice is wrapped by New's error when there is no GPU to use: no
// CUDA driver library, or a driver that sees no device. Other errors mean
// a GPU is there but something is wrong (a missing NVRTC or cuBLAS, a
// kernel that does not compile).
var ErrNoDevice = errors.New("cuda: no CUDA device")

// CUDA driver and cuBLAS constants used here.
const (
	cudaErrorNoDevice        = 100
	attrMultiprocessorCount  = 16
	attrComputeCapMajor      = 75
	attrComputeCapMinor      = 76
	attrMaxSharedPerBlockOpt = 97
	funcAttrMaxDynamicShared = 8
	funcAttrSharedSizeBytes  = 1 // a kernel's static shared memory
	sharedDefault            = 48 * 1024
	cublasOpN                = 0
	cublasOpT                = 1
	cublasDefaultMath        = 0
	cublasTF32Math           = 3
	sumsqMaxBlocks           = 1024
)

// New loads the CUDA libraries, opens device opts.Device, and compiles (or
// loads from the cache) the kernels. The error names what is missing: a
// library, a device, or a kernel that failed to compile.
func New(opts Options) (*Backend, error) {
	drv, err := driverOnce()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoDevice, err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b := &Backend{drv: drv, ordinal: opts.Device, tf32: opts.TF32, args: newKargs(), fns: map[string]uintptr{}, static: map[string]int{},
		params: map[string][]int{}}
	if r := call(drv.cuInit, 0); r != 0 {
		if r == cudaErrorNoDevice {
			return nil, fmt.Errorf("%w: cuInit: %s", ErrNoDevice, drv.errString(r))
		}
		return nil, fmt.Errorf("cuda: cuInit: %s", drv.errString(r))
	}
	var ver, count int32
	call(drv.cuDriverGetVersion, uintptr(unsafe.Pointer(&ver)))
	b.drvVer = int(ver)
	if r := call(drv.cuDeviceGetCount, uintptr(unsafe.Pointer(&count))); r != 0 {
		return nil, fmt.Errorf("cuda: cuDeviceGetCount: %s", drv.errString(r))
	}
	if count == 0 {
		return nil, fmt.Errorf("%w: the driver reports none", ErrNoDevice)
	}
	if opts.Device < 0 || opts.Device >= int(count) {
		return nil, fmt.Errorf("cuda: device %d requested, %d present", opts.Device, count)
	}
	if r := call(drv.cuDeviceGet, uintptr(unsafe.Pointer(&b.dev)), uintptr(opts.Device)); r != 0 {
		return nil, fmt.Errorf("cuda: cuDeviceGet %d: %s", opts.Device, drv.errString(r))
	}
	nameBuf := make([]byte, 256)
	call(drv.cuDeviceGetName, uintptr(unsafe.Pointer(&nameBuf[0])), uintptr(len(nameBuf)), uintptr(b.dev))
	b.devName = cString(&nameBuf[0])
	runtime.KeepAlive(nameBuf)
	attr := func(a int) int {
		var v int32
		call(drv.cuDeviceGetAttribute, uintptr(unsafe.Pointer(&v)), uintptr(a), uintptr(b.dev))
		return int(v)
	}
	major, minor := attr(attrComputeCapMajor), attr(attrComputeCapMinor)
	b.cc = 10*major + minor
	b.arch = fmt.Sprintf("sm_%d%d", major, minor)
	b.sms = max(attr(attrMultiprocessorCount), 1)
	b.smemOptin = attr(attrMaxSharedPerBlockOpt)
	if r := call(drv.cuDevicePrimaryCtxRetain, uintptr(unsafe.Pointer(&b.ctx)), uintptr(b.dev)); r != 0 {
		return nil, fmt.Errorf("cuda: cuDevicePrimaryCtxRetain: %s", drv.errString(r))
	}
	if r := call(drv.cuCtxSetCurrent, b.ctx); r != 0 {
		return nil, fmt.Errorf("cuda: cuCtxSetCurrent: %s", drv.errString(r))
	}
	fail := func(err error) (*Backend, error) {
		b.closeLocked()
		return nil, err
	}
	if b.nv, err = nvrtcOnce(); err != nil {
		return fail(err)
	}
	b.nvMaj, b.nvMin = b.nv.version()
	if b.bl, err = cublasOnce(); err != nil {
		return fail(err)
	}
	if err := b.loadModule(opts.Log); err != nil {
		return fail(err)
	}
	if r := call(b.bl.cublasCreate, uintptr(unsafe.Pointer(&b.blas))); r != 0 {
		return fail(fmt.Errorf("cuda: cublasCreate: %s", cublasErrString(r)))
	}
	var bv int32
	call(b.bl.cublasGetVersion, b.blas, uintptr(unsafe.Pointer(&bv)))
	b.blasVer = int(bv)
	mode := cublasDefaultMath
	if opts.TF32 {
		mode = cublasTF32Math
	}
	if r := call(b.bl.cublasSetMathMode, b.blas, uintptr(mode)); r != 0 {
		return fail(fmt.Errorf("cuda: cublasSetMathMode: %s", cublasErrString(r)))
	}
	b.fault = b.rawAlloc(4)
	b.partials = b.rawAlloc(8 * (sumsqMaxBlocks + 1))
	if b.err != nil {
		return fail(b.err)
	}
	call(drv.cuMemsetD32, b.fault, 0, 1)
	return b, nil
}

// loadModule compiles the embedded kernels for the device (or reads the
// cached CUBIN) and loads them.
func (b *Backend) loadModule(log io.Writer) error {
	src := kernelSource()
	target, ok := nvrtcTarget(b.cc, b.nv.supportedArchs())
	if !ok {
		return fmt.Errorf("cuda: NVRTC %d.%d (%s) cannot compile for %s or any older architecture", b.nvMaj, b.nvMin, b.nv.path, b.arch)
	}
	b.target = target
	opts := nvrtcOptions(target)
	key := cacheKey(src, target, opts, b.nvMaj, b.nvMin, libIdentity(b.nv.path))
	ext := ".cubin"
	if strings.HasPrefix(target, "compute_") {
		ext = ".ptx"
	}
	dir := cacheDir()
	image, ok := cacheLoad(dir, key, ext)
	if !ok {
		if log != nil {
			fmt.Fprintf(log, "cuda: compiling kernels for %s with NVRTC %d.%d (cached in %s afterwards)\n", target, b.nvMaj, b.nvMin, dir)
		}
		t0 := time.Now()
		var err error
		image, _, err = b.nv.compile(src, "seqdiff.cu", opts)
		if err != nil {
			return fmt.Errorf("cuda: compiling kernels for %s: %w", target, err)
		}
		if log != nil {
			fmt.Fprintf(log, "cuda: kernels compiled in %.1fs\n", time.Since(t0).Seconds())
		}
		_ = cacheStore(dir, key, ext, image) // a cache that cannot be written only costs time
	}
	if r := call(b.drv.cuModuleLoadData, uintptr(unsafe.Pointer(&b.mod)), uintptr(unsafe.Pointer(&image[0]))); r != 0 {
		return fmt.Errorf("cuda: cuModuleLoadData (%s, NVRTC %d.%d, driver %d): %s", b.arch, b.nvMaj, b.nvMin, b.drvVer, b.drv.errString(r))
	}
	runtime.KeepAlive(image)
	return nil
}

// Close frees the backend's own device memory and releases the cuBLAS
// handle, the module and the device context; a second Close does nothing.
// Views allocated from b must not be used afterwards.
func (b *Backend) Close() error {
	if b.ctx == 0 {
		return nil
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	_ = b.Sync() // its error stays in b.err, returned below
	b.closeLocked()
	return b.err
}

// closeLocked undoes New and the lazy allocations in reverse order of
// creation; each step clears what it released, so it runs once. The
// context must be current on the locked thread.
func (b *Backend) closeLocked() {
	free := func(p *uintptr) {
		if *p != 0 {
			b.check("cuMemFree", call(b.drv.cuMemFree, *p))
			*p = 0
		}
	}
	if b.ctx != 0 {
		// Queued kernels may still use the buffers freed below.
		b.check("cuCtxSynchronize", call(b.drv.cuCtxSynchronize))
	}
	free(&b.attnD.Dev)
	free(&b.ropeSin.Dev)
	free(&b.ropeCos.Dev)
	b.attnD, b.ropeSin, b.ropeCos, b.ropeHD, b.ropeNPos = compute.F32{}, compute.F32{}, compute.F32{}, 0, 0
	free(&b.partials)
	free(&b.fault)
	if b.blas != 0 {
		b.checkBlas("cublasDestroy", call(b.bl.cublasDestroy, b.blas))
		b.blas = 0
	}
	if b.mod != 0 {
		b.check("cuModuleUnload", call(b.drv.cuModuleUnload, b.mod))
		b.mod = 0
		clear(b.fns)
		clear(b.static)
		clear(b.params)
	}
	if b.ctx != 0 {
		b.check("cuDevicePrimaryCtxRelease", call(b.drv.cuDevicePrimaryCtxRelease, uintptr(b.dev)))
		b.ctx = 0
	}
}

// enter pins the goroutine to its OS thread and makes b's context current
// there (CUDA contexts are per thread); the caller defers
// runtime.UnlockOSThread.
func (b *Backend) enter() {
	runtime.LockOSThread()
	b.check("cuCtxSetCurrent", call(b.drv.cuCtxSetCurrent, b.ctx))
}

// check records the first failing call.
func (b *Backend) check(what string, r cuResult) {
	if r != 0 && b.err == nil {
		b.err = fmt.Errorf("cuda: %s: %s", what, b.drv.errString(r))
	}
}

func (b *Backend) checkBlas(what string, r cuResult) {
	if r != 0 && b.err == nil {
		b.err = fmt.Errorf("cuda: %s: %s", what, cublasErrString(r))
	}
}

func (b *Backend) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// Err is the first recorded error (nil if none), without synchronising.
func (b *Backend) Err() error { return b.err }

// fn returns the kernel named name, looked up once.
func (b *Backend) fn(name string) uintptr {
	if f, ok := b.fns[name]; ok {
		return f
	}
	var f uintptr
	cname := cBytes(name)
	b.check("cuModuleGetFunction "+name, call(b.drv.cuModuleGetFunction, uintptr(unsafe.Pointer(&f)), b.mod, uintptr(unsafe.Pointer(&cname[0]))))
	runtime.KeepAlive(cname)
	if f != 0 {
		var st int32
		b.check("cuFuncGetAttribute "+name, call(b.drv.cuFuncGetAttribute, uintptr(unsafe.Pointer(&st)), funcAttrSharedSizeBytes, f))
		b.static[name] = int(st)
		b.params[name] = b.paramSizes(f)
		b.fns[name] = f
	}
	return f
}

// paramSizes lists kernel f's parameter sizes through cuFuncGetParamInfo
// (driver 12.4+; nil where the driver cannot say).
func (b *Backend) paramSizes(f uintptr) []int {
	if b.drv.cuFuncGetParamInfo == 0 {
		return nil
	}
	var sizes []int
	for i := 0; i <= len(b.args.vals); i++ {
		var off, size uintptr
		if call(b.drv.cuFuncGetParamInfo, f, uintptr(i), uintptr(unsafe.Pointer(&off)), uintptr(unsafe.Pointer(&size))) != 0 {
			break
		}
		sizes = append(sizes, int(size))
	}
	return sizes
}

// checkArgs compares a launch's arguments (their sizes) with the kernel's
// parameters: a wrong count or size would hand the kernel garbage.
func checkArgs(name string, want []int, got []uint8) error {
	if want == nil {
		return nil
	}
	if len(want) != len(got) {
		return fmt.Errorf("cuda: kernel %s takes %d parameters; the launch passes %d", name, len(want), len(got))
	}
	for i, w := range want {
		if w != int(got[i]) {
			return fmt.Errorf("cuda: kernel %s parameter %d is %d bytes; the launch passes %d", name, i, w, got[i])
		}
	}
	return nil
}

// launch runs kernel name on the default stream with the parameters in
// b.args. Nothing runs once an error is recorded, or for an empty grid
// (a zero N, T or B).
func (b *Backend) launch(name string, grid, block dim3, smem int) {
	if b.err != nil || grid.empty() {
		return
	}
	f := b.fn(name)
	if f == 0 {
		return
	}
	if err := checkArgs(name, b.params[name], b.args.size[:b.args.n]); err != nil {
		b.fail(err)
		return
	}
	optIn, err := sharedMemory(name, b.static[name], smem, b.smemOptin)
	if err != nil {
		b.fail(err)
		return
	}
	if optIn {
		b.check("cuFuncSetAttribute "+name, call(b.drv.cuFuncSetAttribute, f, funcAttrMaxDynamicShared, uintptr(smem)))
	}
	r := call(b.drv.cuLaunchKernel, f, uintptr(grid.x), uintptr(grid.y), uintptr(grid.z),
		uintptr(block.x), uintptr(block.y), uintptr(block.z), uintptr(smem), 0,
		uintptr(unsafe.Pointer(&b.args.ptrs[0])), 0)
	runtime.KeepAlive(b.args)
	b.check("launch "+name, r)
}

// sharedMemory checks a launch's shared memory: static (the kernel's own
// __shared__ arrays) plus dynamic bytes must fit the 48 KiB every block
// gets, or the device's opt-in maximum, for which the kernel must be
// allowed the dynamic part first (optIn).
func sharedMemory(name string, static, dynamic, optinMax int) (optIn bool, err error) {
	total := static + dynamic
	if total <= sharedDefault {
		return false, nil
	}
	if total > optinMax {
		return false, fmt.Errorf("cuda: %s needs %d bytes of shared memory (%d static + %d dynamic), the device allows %d", name, total, static, dynamic, optinMax)
	}
	return true, nil
}

// launch1 launches a grid-stride kernel over n items with 256 threads.
func (b *Backend) launch1(name string, n int) {
	b.launch(name, dim3{gridFor(n, 256, b.sms*32), 1, 1}, dim3{256, 1, 1}, 0)
}

// ---------------------------------------------------------------- identity

// Name describes the device, e.g. "cuda (NVIDIA H100 80GB HBM3, sm_90,
// 132 SMs, driver 13000, NVRTC 13.0, cuBLAS 130100, tf32 off)".
func (b *Backend) Name() string {
	tf := "off"
	if b.tf32 {
		tf = "on"
	}
	arch := b.arch
	if b.target != b.arch {
		arch += " via " + b.target + " PTX"
	}
	return fmt.Sprintf("cuda (%s, %s, %d SMs, driver %d, NVRTC %d.%d, cuBLAS %d, tf32 %s)",
		b.devName, arch, b.sms, b.drvVer, b.nvMaj, b.nvMin, b.blasVer, tf)
}

// DeviceName is the GPU's name as the driver reports it.
func (b *Backend) DeviceName() string { return b.devName }

// TF32 reports whether cuBLAS may use TF32 tensor cores.
func (b *Backend) TF32() bool { return b.tf32 }

// ---------------------------------------------------------------- memory

func (b *Backend) rawAlloc(bytes int) uintptr {
	if bytes <= 0 {
		return 0
	}
	var p uintptr
	r := call(b.drv.cuMemAlloc, uintptr(unsafe.Pointer(&p)), uintptr(bytes))
	if r != 0 && b.err == nil {
		b.err = fmt.Errorf("cuda: cuMemAlloc %.1f MiB: %s", float64(bytes)/(1<<20), b.drv.errString(r))
	}
	return p
}

// Alloc returns n zeroed float32s of device memory. When the device is out
// of memory the error is recorded (Sync returns it) and the view's Dev is 0.
func (b *Backend) Alloc(n int) compute.F32 {
	if n <= 0 {
		return compute.F32{}
	}
	b.enter()
	defer runtime.UnlockOSThread()
	p := b.rawAlloc(4 * n)
	if p != 0 {
		b.check("cuMemsetD32", call(b.drv.cuMemsetD32, p, 0, uintptr(n)))
	}
	return compute.F32{Dev: p, N: n}
}

// AllocI32 returns n zeroed int32s of device memory.
func (b *Backend) AllocI32(n int) compute.I32 {
	t := b.Alloc(n)
	return compute.I32{Dev: t.Dev, N: t.N}
}

// Free and FreeI32 release device memory (cuMemFree waits for the
// device's queued work first).
func (b *Backend) Free(t compute.F32) {
	if t.Dev == 0 {
		return
	}
	b.enter()
	defer runtime.UnlockOSThread()
	b.freeDev(t.Dev)
}

// freeDev waits for queued work (which may still read the buffer), then
// frees it.
func (b *Backend) freeDev(p uintptr) {
	b.check("cuCtxSynchronize", call(b.drv.cuCtxSynchronize))
	b.check("cuMemFree", call(b.drv.cuMemFree, p))
}

func (b *Backend) FreeI32(t compute.I32) { b.Free(compute.F32{Dev: t.Dev, N: t.N}) }

// Upload copies min(dst.N, len(src)) values to the device; the host slice
// may be reused when it returns.
func (b *Backend) Upload(dst compute.F32, src []float32) {
	n := min(dst.N, len(src))
	if n == 0 || b.err != nil {
		return
	}
	b.enter()
	defer runtime.UnlockOSThread()
	b.check("cuMemcpyHtoD", call(b.drv.cuMemcpyHtoD, dst.Dev, uintptr(unsafe.Pointer(&src[0])), uintptr(4*n)))
	runtime.KeepAlive(src)
}

// UploadI32 copies min(dst.N, len(src)) int32s to the device.
func (b *Backend) UploadI32(dst compute.I32, src []int32) {
	n := min(dst.N, len(src))
	if n == 0 || b.err != nil {
		return
	}
	b.enter()
	defer runtime.UnlockOSThread()
	b.check("cuMemcpyHtoD", call(b.drv.cuMemcpyHtoD, dst.Dev, uintptr(unsafe.Pointer(&src[0])), uintptr(4*n)))
	runtime.KeepAlive(src)
}

// Download copies min(len(dst), src.N) values to the host, after the work
// queued before it. On a recorded error dst is filled with NaN, so a caller
// that forgets Sync still sees the fault.
func (b *Backend) Download(dst []float32, src compute.F32) {
	n := min(len(dst), src.N)
	if n == 0 {
		return
	}
	b.enter()
	defer runtime.UnlockOSThread()
	if b.err == nil {
		b.check("cuMemcpyDtoH", call(b.drv.cuMemcpyDtoH, uintptr(unsafe.Pointer(&dst[0])), src.Dev, uintptr(4*n)))
		runtime.KeepAlive(dst)
	}
	if b.err != nil {
		nan := float32(math.NaN())
		for i := range dst[:n] {
			dst[i] = nan
		}
	}
}

// Zero sets t (N) to 0.
func (b *Backend) Zero(t compute.F32) {
	if t.N == 0 || b.err != nil {
		return
	}
	b.enter()
	defer runtime.UnlockOSThread()
	b.check("cuMemsetD32", call(b.drv.cuMemsetD32, t.Dev, 0, uintptr(t.N)))
}

// Copy copies min(dst.N, src.N) values device to device.
func (b *Backend) Copy(dst, src compute.F32) {
	n := min(dst.N, src.N)
	if n == 0 || b.err != nil {
		return
	}
	b.enter()
	defer runtime.UnlockOSThread()
	b.check("cuMemcpyDtoD", call(b.drv.cuMemcpyDtoD, dst.Dev, src.Dev, uintptr(4*n)))
}

// ErrDeviceFault is wrapped by Sync's error when a kernel detected bad
// input itself (a token id outside the vocabulary).
var ErrDeviceFault = errors.New("cuda: kernel fault")

// Sync waits for all queued work and returns the first error recorded
// since the backend was made: a failed CUDA call or launch (named), an
// asynchronous fault of a kernel, or a fault a kernel flagged itself.
func (b *Backend) Sync() error {
	b.enter()
	defer runtime.UnlockOSThread()
	b.check("cuCtxSynchronize (a kernel failed; rerun with CUDA_LAUNCH_BLOCKING=1 and compute-sanitizer to find it)", call(b.drv.cuCtxSynchronize))
	if b.err == nil && b.fault != 0 {
		var f int32
		b.check("cuMemcpyDtoH", call(b.drv.cuMemcpyDtoH, uintptr(unsafe.Pointer(&f)), b.fault, 4))
		if f&1 != 0 {
			b.fail(fmt.Errorf("%w: EmbeddingForward: a token id outside [0, vocab)", ErrDeviceFault))
		}
	}
	return b.err
}

// unsafePointer is unsafe.Pointer for the few host addresses passed to C.
func unsafePointer[T any](p *T) unsafe.Pointer { return unsafe.Pointer(p) }
