// Package backend picks the compute.Backend a command runs on: the CPU
// (compute/cpu) or an NVIDIA GPU (compute/cuda), by name.
package backend

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/seqdiff/seqdiff/compute"
	"github.com/seqdiff/seqdiff/compute/cpu"
	"github.com/seqdiff/seqdiff/compute/cuda"
)

// Options say which backend to open.
type Options struct {
	// Device is "auto" (or ""): the GPU when the CUDA libraries load and a
	// device exists, else the CPU; "cpu"; "cuda" (GPU 0, or the rank's: see
	// LocalRank) or "cuda:N".
	Device string
	// Threads is the CPU backend's goroutine count (0: all cores).
	Threads int
	// TF32 lets cuBLAS use TF32 tensor cores on the GPU (also turned on by
	// the environment variable SEQDIFF_TF32=1).
	TF32 bool
	// LocalRank is a data-parallel rank's number on its node (0 for one
	// process): "auto" and "cuda" open GPU LocalRank mod the node's GPU
	// count, so the ranks of a node share the GPUs out one each.
	LocalRank int
	// Log, when set, receives a line when "auto" falls back to the CPU
	// although a CUDA driver is present (so a broken GPU setup is seen),
	// and the kernel-compile notice of the first GPU run.
	Log io.Writer
}

// Open returns the backend o names and a function that releases it.
// "cuda" fails with the CUDA backend's error (naming the missing library
// or device); "auto" never fails for want of a GPU.
func Open(o Options) (compute.Backend, func(), error) {
	dev := strings.TrimSpace(o.Device)
	tf32 := o.TF32 || os.Getenv("SEQDIFF_TF32") == "1"
	switch {
	case dev == "cpu":
		return cpu.New(o.Threads), func() {}, nil
	case dev == "" || dev == "auto":
		be, err := cuda.New(cuda.Options{Device: rankGPU(o.LocalRank), TF32: tf32, Log: o.Log})
		if err == nil {
			return be, func() { be.Close() }, nil
		}
		if o.Log != nil && !errors.Is(err, cuda.ErrNoDevice) {
			fmt.Fprintf(o.Log, "device auto: CUDA unusable, running on the CPU: %v\n", err)
		}
		return cpu.New(o.Threads), func() {}, nil
	case dev == "cuda" || strings.HasPrefix(dev, "cuda:"):
		n := rankGPU(o.LocalRank)
		if rest, ok := strings.CutPrefix(dev, "cuda:"); ok {
			var err error
			if n, err = strconv.Atoi(rest); err != nil || n < 0 {
				return nil, nil, fmt.Errorf("--device %q: want cuda:N with N a GPU number", o.Device)
			}
		}
		be, err := cuda.New(cuda.Options{Device: n, TF32: tf32, Log: o.Log})
		if err != nil {
			return nil, nil, fmt.Errorf("--device %s: %w", dev, err)
		}
		return be, func() { be.Close() }, nil
	}
	return nil, nil, fmt.Errorf("--device %q: want auto, cpu, cuda or cuda:N", o.Device)
}

// rankGPU is the GPU of local rank r: r mod the GPU count (0 where the
// count is unknown; cuda.New then says what is wrong).
func rankGPU(r int) int {
	if r <= 0 {
		return 0
	}
	n, err := cuda.DeviceCount()
	if err != nil || n == 0 {
		return 0
	}
	return r % n
}

// Threads is the CPU backend's thread count, 0 for a GPU backend.
func Threads(be compute.Backend) int {
	if c, ok := be.(*cpu.Backend); ok {
		return c.Threads()
	}
	return 0
}
