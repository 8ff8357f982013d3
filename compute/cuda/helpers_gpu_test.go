//go:build linux && (amd64 || arm64)

package cuda

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/seqdiff/seqdiff/compute"
	"github.com/seqdiff/seqdiff/compute/cpu"
)

// The parity tests run every kernel on this backend and on compute/cpu
// with the same fresh random inputs and compare the outputs by
// ||gpu - cpu|| / ||cpu|| (METHOD.md's measure): float32 kernels within
// 1e-5, cuBLAS with TF32 within 3e-3. They skip, saying why, where no
// CUDA device and libraries are found.

var (
	gpuOnce sync.Once
	gpuBE   *Backend
	gpuErr  error
)

// TestMain also closes the shared test backend at the end, so that the
// emulated device reports device memory a test never freed (a leak fails
// the run there; a real driver says nothing), and runs a seeded-bug child
// (emu_test.go) or an NCCL rank (nccl_test.go) when asked to.
func TestMain(m *testing.M) {
	if spec := os.Getenv("SEQDIFF_EMU_SEEDED"); spec != "" {
		os.Exit(runSeeded(spec))
	}
	if spec := os.Getenv("SEQDIFF_NCCL_CHILD"); spec != "" {
		os.Exit(runNCCLChild(spec))
	}
	code := m.Run()
	if gpuBE != nil {
		if err := gpuBE.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "closing the shared test backend: %v\n", err)
			code = max(code, 1)
		}
	}
	os.Exit(code)
}

// gpu returns the shared test backend (TF32 off), skips the test where
// there is no GPU, and fails it where there is one that the backend cannot
// use (NVRTC or cuBLAS missing, a kernel that does not compile): a broken
// install must not pass as "no GPU".
func gpu(t *testing.T) *Backend {
	t.Helper()
	gpuOnce.Do(func() { gpuBE, gpuErr = New(Options{}) })
	if errors.Is(gpuErr, ErrNoDevice) {
		t.Skipf("no CUDA device: %v", gpuErr)
	}
	if gpuErr != nil {
		t.Fatalf("a CUDA device is there, but the backend does not open: %v", gpuErr)
	}
	if err := gpuBE.Err(); err != nil {
		t.Fatalf("cuda backend already failed: %v", err)
	}
	return gpuBE
}

// freshGPU is a backend of its own (tests that leave a sticky error).
func freshGPU(t *testing.T, opts Options) *Backend {
	t.Helper()
	gpu(t)
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func ref() *cpu.Backend { return cpu.New(0) }

func randn(r *rand.Rand, n int, scale float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = scale * float32(r.NormFloat64())
	}
	return x
}

func clone(x []float32) []float32 { return append([]float32(nil), x...) }
func hf(x []float32) compute.F32  { return compute.F32{Host: x, N: len(x)} }
func hi(x []int32) compute.I32    { return compute.I32{Host: x, N: len(x)} }

// up copies x to a new device buffer, freed at the end of the test.
func up(t *testing.T, g *Backend, x []float32) compute.F32 {
	t.Helper()
	if len(x) == 0 {
		return compute.F32{}
	}
	d := g.Alloc(len(x))
	g.Upload(d, x)
	t.Cleanup(func() { g.Free(d) })
	return d
}

func upI(t *testing.T, g *Backend, x []int32) compute.I32 {
	t.Helper()
	if len(x) == 0 {
		return compute.I32{}
	}
	d := g.AllocI32(len(x))
	g.UploadI32(d, x)
	t.Cleanup(func() { g.FreeI32(d) })
	return d
}

// poisoned is a device buffer of n NaNs: an element a kernel should write
// but does not stays NaN and fails the comparison.
func poisoned(t *testing.T, g *Backend, n int) compute.F32 {
	t.Helper()
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(math.NaN())
	}
	return up(t, g, x)
}

// down syncs and copies d back.
func down(t *testing.T, g *Backend, d compute.F32) []float32 {
	t.Helper()
	out := make([]float32, d.N)
	g.Download(out, d)
	if err := g.Sync(); err != nil {
		t.Fatalf("sync: %v", err)
	}
	return out
}

// relErr is ||got - want|| / ||want|| over the elements where want is
// finite; a position where one is NaN or ±Inf and the other is not gives +Inf.
func relErr(got, want []float32) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var num, den float64
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(w) || math.IsInf(w, 0) {
			if !(math.IsNaN(w) && math.IsNaN(g)) && g != w {
				return math.Inf(1)
			}
			continue
		}
		if math.IsNaN(g) || math.IsInf(g, 0) {
			return math.Inf(1)
		}
		num += (g - w) * (g - w)
		den += w * w
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

// same fails when relErr(got, want) > tol, naming the first bad element.
func same(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	e := relErr(got, want)
	if e <= tol {
		return
	}
	worst, wi := -1.0, 0
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		if d > worst {
			worst, wi = d, i
		}
	}
	t.Errorf("%s: relative error %.3g > %.0e (worst [%d]: gpu %v cpu %v)", what, e, tol, wi, got[wi], want[wi])
}

const f32Tol = 1e-5

func TestNoDeviceMessage(t *testing.T) {
	_, err := New(Options{Device: 1 << 20})
	if err == nil {
		t.Fatal("device 1<<20 opened")
	}
	var nl *errNoLibrary
	if errors.As(err, &nl) {
		t.Skipf("no CUDA driver here: %v", err)
	}
	t.Logf("error as expected: %v", err)
}
