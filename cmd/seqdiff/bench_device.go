package main

import (
	"os"

	"github.com/seqdiff/seqdiff/compute"
	"github.com/seqdiff/seqdiff/compute/backend"
)

// modelBackend opens the backend named by device (see deviceHelp): "auto"
// (the GPU when CUDA loads and a device exists, else the CPU), "cpu"
// (threads goroutines, 0 = all cores) or "cuda" / "cuda:N" (GPU N). The
// returned close releases it. The first GPU run on a machine compiles the
// kernels (tens of seconds) and says so on stderr.
func modelBackend(device string, threads int) (compute.Backend, func(), error) {
	return backend.Open(backend.Options{Device: device, Threads: threads, Log: os.Stderr})
}
