package main

import (
	"os"
	"regexp"

	"github.com/spf13/cobra"

	"github.com/seqdiff/seqdiff/compute"
	"github.com/seqdiff/seqdiff/compute/backend"
	"github.com/seqdiff/seqdiff/nn"
)

// deviceFlags choose where a command computes: --device and --threads.
type deviceFlags struct {
	device  string
	threads int
}

func (d *deviceFlags) bind(cmd *cobra.Command) {
	d.bindDevice(cmd)
	cmd.Flags().IntVar(&d.threads, "threads", 0, "CPU threads (0: all cores)")
}

// bindDevice binds --device alone (the threads come from elsewhere).
func (d *deviceFlags) bindDevice(cmd *cobra.Command) {
	c := choiceVar(cmd, &d.device, "device", "auto", []string{"auto", "cpu", "cuda", "cuda:N"},
		"compute device: auto is the GPU when CUDA loads and a device exists, else the CPU; cuda:N is GPU N; SEQDIFF_TF32=1 lets cuBLAS use TF32")
	c.match = regexp.MustCompile(`^cuda:[0-9]+$`)
}

// open opens the backend (the first GPU run compiles the kernels, tens of
// seconds, and says so on stderr); close releases it.
func (d *deviceFlags) open() (be compute.Backend, close func(), err error) {
	return backend.Open(backend.Options{Device: d.device, Threads: d.threads, Log: os.Stderr})
}

// modelFlags are the flags of a command that runs a checkpoint: where, and
// with which weights (the EMA when the checkpoint has one, unless --raw).
type modelFlags struct {
	deviceFlags
	raw bool
}

func (m *modelFlags) bind(cmd *cobra.Command) {
	m.deviceFlags.bind(cmd)
	cmd.Flags().BoolVar(&m.raw, "raw", false, "use the trained weights even when the checkpoint has an EMA")
}

// load opens the backend and loads the checkpoint at path (a checkpoint or
// run directory) onto it with nn.LoadModel; close frees both.
func (m *modelFlags) load(path string) (model *nn.Model, ema bool, close func(), err error) {
	be, closeBE, err := m.open()
	if err != nil {
		return nil, false, nil, err
	}
	model, _, ema, err = nn.LoadModel(be, path, !m.raw)
	if err != nil {
		closeBE()
		return nil, false, nil, err
	}
	return model, ema, func() { model.Free(); closeBE() }, nil
}
