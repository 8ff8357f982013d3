//go:build linux && (amd64 || arm64)

package cuda

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/seqdiff/seqdiff/compute"
)

// The emulated device (compute/cuda/emu, `make test-cuda-emu`) must not be
// vacuous: each bug below is seeded into a copy of the real kernels, the
// copy is loaded in place of the backend's module, and the backend's own
// method that launches the kernel must fail, either with an error from the
// emulator or with a wrong result. The same path with the unmodified
// kernels must pass. Each run is a process of its own, since a fault
// poisons the CUDA context of the whole process, as on a GPU.

// emulated reports whether b runs on the emulated device.
func emulated(b *Backend) bool { return strings.Contains(b.DeviceName(), "emulator") }

type seededBug struct {
	name, old, new string
	check          func(b *Backend) error
}

var seededBugs = []seededBug{
	{"out-of-bounds write", "out[i] = wte[(long long)id * C + c];", "out[i + C] = wte[(long long)id * C + c];", checkEmbedding},
	{"missing __syncthreads in a reduction",
		"if (lane == 0) scratch[warp] = v;\n    __syncthreads();\n    v = lane < nw ? scratch[lane] : 0.0;\n    return warp_sum_d(v);",
		"if (lane == 0) scratch[warp] = v;\n    v = lane < nw ? scratch[lane] : 0.0;\n    return warp_sum_d(v);", checkSumSquares},
	{"off-by-one index", "i < (n); \\", "i <= (n); \\", checkAdd},
	{"wrong warp-shuffle width",
		"double warp_sum_d(double v) {\n    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);",
		"double warp_sum_d(double v) {\n    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o, 16);", checkSumSquares},
	{"shuffle naming an exited lane", "double s = 0.0;\n    GRID_STRIDE(i, n) {\n        double v = x[i];",
		"double s = 0.0;\n    if (threadIdx.x == 37) return;\n    GRID_STRIDE(i, n) {\n        double v = x[i];", checkSumSquares},
}

// checkEmbedding: embedding_forward gathers rows of wte (N*C a multiple of
// 4 floats, so the buffer ends at the emulator's guard page).
func checkEmbedding(b *Backend) error {
	const N, C, V = 16, 8, 5
	r := rand.New(rand.NewPCG(1, 2))
	wte := make([]float32, V*C)
	for i := range wte {
		wte[i] = float32(r.NormFloat64())
	}
	tok := make([]int32, N)
	for i := range tok {
		tok[i] = int32(r.IntN(V))
	}
	dw, dt, out := b.Alloc(V*C), b.AllocI32(N), b.Alloc(N*C)
	defer func() { b.Free(dw); b.FreeI32(dt); b.Free(out) }()
	b.Upload(dw, wte)
	b.UploadI32(dt, tok)
	b.EmbeddingForward(out, dt, dw, N, C)
	got := make([]float32, N*C)
	b.Download(got, out)
	if err := b.Sync(); err != nil {
		return err
	}
	for n := range N {
		for c := range C {
			if got[n*C+c] != wte[int(tok[n])*C+c] {
				return fmt.Errorf("wrong result: out[%d,%d] = %g, want %g", n, c, got[n*C+c], wte[int(tok[n])*C+c])
			}
		}
	}
	return nil
}

// checkSumSquares: sumsq_partial and sumsq_final reduce 8 blocks of 256
// threads through block_sum_d (warp shuffles, shared memory, barriers).
func checkSumSquares(b *Backend) error {
	const n = 8 * 256
	x := make([]float32, n)
	var want float64
	for i := range x {
		x[i] = float32(i%97) / 16
		want += float64(x[i]) * float64(x[i])
	}
	d := b.Alloc(n)
	defer b.Free(d)
	b.Upload(d, x)
	got := b.SumSquares(d, n)
	if err := b.Sync(); err != nil {
		return err
	}
	if !(math.Abs(got-want) <= 1e-9*want) { // NaN fails too
		return fmt.Errorf("wrong result: sum of squares %g, want %g", got, want)
	}
	return nil
}

// checkAdd: add over n = 1024 floats (4096 bytes, ending at a guard page).
func checkAdd(b *Backend) error {
	const n = 1024
	x, y := make([]float32, n), make([]float32, n)
	for i := range x {
		x[i], y[i] = float32(i), float32(2*i)
	}
	dx, dy, out := b.Alloc(n), b.Alloc(n), b.Alloc(n)
	defer func() { b.Free(dx); b.Free(dy); b.Free(out) }()
	b.Upload(dx, x)
	b.Upload(dy, y)
	b.Add(out, dx, dy, n)
	got := make([]float32, n)
	b.Download(got, out)
	if err := b.Sync(); err != nil {
		return err
	}
	for i := range got {
		if got[i] != 3*float32(i) {
			return fmt.Errorf("wrong result: out[%d] = %g, want %g", i, got[i], 3*float32(i))
		}
	}
	return nil
}

// runSeeded is the child process: it loads the kernels with bug name
// seeded (or unmodified, with control set) in place of the backend's
// module, runs the bug's check, and prints one OUTCOME line.
func runSeeded(spec string) int {
	control := strings.HasPrefix(spec, "control:")
	name := strings.TrimPrefix(spec, "control:")
	var bug *seededBug
	for i := range seededBugs {
		if seededBugs[i].name == name {
			bug = &seededBugs[i]
		}
	}
	if bug == nil {
		fmt.Println("OUTCOME setup: no seeded bug named", name)
		return 1
	}
	src := kernelSource()
	if strings.Count(src, bug.old) != 1 {
		fmt.Printf("OUTCOME setup: the text to replace occurs %d times in the kernels (want 1): %q\n", strings.Count(src, bug.old), bug.old)
		return 1
	}
	if !control {
		src = strings.Replace(src, bug.old, bug.new, 1)
	}
	b, err := New(Options{})
	if err != nil {
		fmt.Println("OUTCOME setup:", err)
		return 1
	}
	if err := b.swapModule(src); err != nil {
		fmt.Println("OUTCOME setup:", err)
		return 1
	}
	if err := bug.check(b); err != nil {
		fmt.Println("OUTCOME caught:", strings.ReplaceAll(err.Error(), "\n", " "))
		return 0
	}
	fmt.Println("OUTCOME passed")
	return 0
}

// swapModule compiles src and makes it the backend's module (tests only).
func (b *Backend) swapModule(src string) error {
	image, _, err := b.nv.compile(src, "seeded.cu", nvrtcOptions(b.target))
	if err != nil {
		return err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var mod uintptr
	if r := call(b.drv.cuModuleLoadData, uintptr(unsafe.Pointer(&mod)), uintptr(unsafe.Pointer(&image[0]))); r != 0 {
		return errors.New(b.drv.errString(r))
	}
	runtime.KeepAlive(image)
	call(b.drv.cuModuleUnload, b.mod)
	b.mod = mod
	clear(b.fns)
	clear(b.static)
	clear(b.params)
	return nil
}

func TestEmulatorCatchesSeededBugs(t *testing.T) {
	g := gpu(t)
	if !emulated(g) {
		t.Skipf("%s is not the emulated device: seeded bugs need its checks (make test-cuda-emu)", g.DeviceName())
	}
	outcome := func(t *testing.T, spec string) string {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "SEQDIFF_EMU_SEEDED="+spec)
		out, err := cmd.CombinedOutput()
		for _, line := range strings.Split(string(out), "\n") {
			if s, ok := strings.CutPrefix(line, "OUTCOME "); ok {
				if strings.HasPrefix(s, "setup") || err != nil {
					t.Fatalf("%s: %s (exit %v)", spec, s, err)
				}
				return s
			}
		}
		t.Fatalf("%s: no outcome (exit %v):\n%s", spec, err, out)
		return ""
	}
	for _, bug := range seededBugs {
		t.Run(strings.ReplaceAll(bug.name, " ", "_"), func(t *testing.T) {
			if o := outcome(t, "control:"+bug.name); o != "passed" {
				t.Fatalf("the unmodified kernels fail the check: %s", o)
			}
			o := outcome(t, bug.name)
			if !strings.HasPrefix(o, "caught") {
				t.Fatalf("the emulator missed the seeded bug: %s", o)
			}
			t.Logf("%s", o)
		})
	}
}

// TestEmptyShapesOnDevice: a zero N, T or B is no launch at all (CUDA
// rejects an empty grid), and nothing fails.
func TestEmptyShapesOnDevice(t *testing.T) {
	g := freshGPU(t, Options{})
	var none compute.F32
	var noneI compute.I32
	g.Add(none, none, none, 0)
	g.Scale(none, 0, 2)
	g.GeluForward(none, none, 0)
	g.LayerNormForward(none, none, none, none, none, none, 0, 8)
	g.EmbeddingForward(none, noneI, none, 0, 8)
	g.MeanPoolForward(none, none, noneI, 0, 4, 8)
	g.AttentionForward(none, none, none, noneI, 0, 4, 8, 2, false)
	g.AttentionForward(none, none, none, noneI, 2, 0, 8, 2, true)
	g.Softmax(none, none, 0, 12, -1, 1)
	if s := g.SumSquares(none, 0); s != 0 {
		t.Errorf("SumSquares of nothing = %g", s)
	}
	if err := g.Sync(); err != nil {
		t.Fatal(err)
	}
}

// TestBrokenInstallFails: a driver with a GPU but no NVRTC or cuBLAS must
// fail the GPU tests, not skip them as "no GPU". Run in a child process
// that finds only the emulator's libcuda.
func TestBrokenInstallFails(t *testing.T) {
	g := gpu(t)
	if !emulated(g) {
		t.Skipf("%s is not the emulated device: this needs its libcuda alone in a folder", g.DeviceName())
	}
	dir := t.TempDir()
	if err := os.Symlink(g.drv.path, dir+"/libcuda.so.1"); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestElementwiseParity$", "-test.v")
	cmd.Env = append(os.Environ(), "SEQDIFF_CUDA_LIBS="+dir, "LD_LIBRARY_PATH=")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--- FAIL: TestElementwiseParity") || !strings.Contains(string(out), "does not open") {
		t.Fatalf("with libcuda but no NVRTC or cuBLAS the test did not fail (exit %v):\n%s", err, out)
	}
}
