package backend

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/compute/cpu"
	"github.com/seqdiff/seqdiff/compute/cuda"
)

func TestOpen(t *testing.T) {
	be, done, err := Open(Options{Device: "cpu", Threads: 3})
	if err != nil {
		t.Fatal(err)
	}
	done()
	if c, ok := be.(*cpu.Backend); !ok || c.Threads() != 3 || Threads(be) != 3 {
		t.Errorf("cpu: got %T %s", be, be.Name())
	}
	for _, bad := range []string{"tpu", "cuda:x", "cuda:-1", "CPU"} {
		if _, _, err := Open(Options{Device: bad}); err == nil || !strings.Contains(err.Error(), "--device") {
			t.Errorf("device %q: err = %v", bad, err)
		}
	}
	// auto: the GPU where one works, the CPU elsewhere, never an error.
	var log bytes.Buffer
	be, done, err = Open(Options{Device: "auto", Log: &log})
	if err != nil {
		t.Fatalf("auto: %v", err)
	}
	defer done()
	_, gpuErr := cuda.New(cuda.Options{})
	if gpuErr != nil && !errors.Is(gpuErr, cuda.ErrNoDevice) {
		t.Errorf("a CUDA device is there, but the backend does not open: %v", gpuErr)
	}
	switch be.(type) {
	case *cpu.Backend:
		if gpuErr == nil {
			t.Error("auto chose the CPU although a GPU opens")
		}
		// "cuda" asked for explicitly fails, naming what is missing.
		if _, _, err := Open(Options{Device: "cuda"}); err == nil || !strings.Contains(err.Error(), "cuda") {
			t.Errorf("cuda without a GPU: err = %v", err)
		}
		t.Logf("no GPU: %v (auto log: %q)", gpuErr, log.String())
	case *cuda.Backend:
		if Threads(be) != 0 {
			t.Error("GPU backend reports CPU threads")
		}
		t.Logf("auto chose %s", be.Name())
	default:
		t.Errorf("auto: unexpected %T", be)
	}
}

func ExampleOpen() {
	be, done, err := Open(Options{Device: "cpu", Threads: 1})
	if err != nil {
		panic(err)
	}
	defer done()
	x := be.Alloc(3)
	be.Upload(x, []float32{1, 2, 3})
	be.Scale(x, 3, 2)
	out := make([]float32, 3)
	be.Download(out, x)
	if err := be.Sync(); err != nil {
		panic(err)
	}
	fmt.Println(out)
	// Output: [2 4 6]
}
