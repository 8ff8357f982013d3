package main

import (
	"os"

	"github.com/seqdiff/seqdiff/compute"
	"github.com/seqdiff/seqdiff/compute/backend"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/train"
)

// modelBackend opens the backend named by device (see deviceHelp): "auto"
// (the GPU when CUDA loads and a device exists, else the CPU), "cpu"
// (threads goroutines, 0 = all cores) or "cuda" / "cuda:N" (GPU N). The
// returned close releases it. The first GPU run on a machine compiles the
// kernels (tens of seconds) and says so on stderr.
func modelBackend(device string, threads int) (compute.Backend, func(), error) {
	return backend.Open(backend.Options{Device: device, Threads: threads, Log: os.Stderr})
}

// openModel opens the device backend and loads the checkpoint in ckpt onto
// it, with its EMA weights when useEMA is set and the checkpoint has them
// (emaUsed reports which). closeFn frees the model and then the backend.
func openModel(device string, threads int, ckpt string, useEMA bool) (m *nn.Model, emaUsed bool, closeFn func(), err error) {
	be, closeBE, err := modelBackend(device, threads)
	if err != nil {
		return nil, false, nil, err
	}
	m, _, emaUsed, err = train.LoadModel(be, ckpt, useEMA)
	if err != nil {
		closeBE()
		return nil, false, nil, err
	}
	return m, emaUsed, func() { m.Free(); closeBE() }, nil
}
