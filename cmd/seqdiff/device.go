package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"

	"github.com/spf13/cobra"

	"github.com/seqdiff/seqdiff/compute"
	"github.com/seqdiff/seqdiff/compute/backend"
	"github.com/seqdiff/seqdiff/compute/cuda"
	"github.com/seqdiff/seqdiff/dist"
	"github.com/seqdiff/seqdiff/nn"
)

func init() { register(newDeviceCmd) }

type deviceOptions struct {
	json bool
}

func newDeviceCmd() *cobra.Command {
	o := &deviceOptions{}
	cmd := &cobra.Command{
		Use:   "device",
		Short: "List the CUDA libraries and GPUs that --device cuda would use",
		Long: `device loads the CUDA driver (libcuda.so.1), NVRTC and cuBLAS as --device cuda
does and lists the GPUs the driver sees, without creating a context or
compiling a kernel, so it answers in well under a second: the preflight of
a GPU session (scripts/gpu-check.sh runs it first).

It exits with status 1 when a library is missing or the driver sees no
GPU, naming on one line every library it could not load and where it
looked; SEQDIFF_CUDA_LIBS (a colon list of folders) is searched first.
--json prints one JSON object, on failure too ("ok": false, "error").`,
		Example: `  seqdiff device
  SEQDIFF_CUDA_LIBS=/usr/local/cuda/lib64 seqdiff device --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.OutOrStdout()) },
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print one JSON object")
	return cmd
}

// deviceReport is device --json's object: the verdict, then cuda.Info.
type deviceReport struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	cuda.Info
}

func (o *deviceOptions) run(stdout io.Writer) error {
	info, err := cuda.Probe()
	if err != nil {
		err = fmt.Errorf("device: %w", err)
	}
	if o.json {
		r := deviceReport{OK: err == nil, Info: info}
		if err != nil {
			r.Error = err.Error()
		}
		if r.Devices == nil {
			r.Devices = []cuda.DeviceInfo{} // [] rather than null for readers
		}
		if e := json.NewEncoder(stdout).Encode(r); e != nil && err == nil {
			err = e
		}
		return err
	}
	lib := func(path, version string) string {
		switch {
		case path == "":
			return "not found"
		case version != "":
			return path + " (" + version + ")"
		}
		return path
	}
	drv := ""
	if v := info.DriverVersion; v > 0 {
		drv = fmt.Sprintf("CUDA %d.%d", v/1000, v%1000/10)
	}
	nccl := lib(info.NCCLLib, info.NCCLVersion)
	if info.NCCLLib == "" {
		nccl += " (needed only by data-parallel runs on GPUs)"
	}
	fmt.Fprintf(stdout, "driver  %s\nnvrtc   %s\ncublas  %s\nnccl    %s\n",
		lib(info.DriverLib, drv), lib(info.NVRTCLib, info.NVRTCVersion), lib(info.CuBLASLib, ""), nccl)
	for _, d := range info.Devices {
		fmt.Fprintf(stdout, "cuda:%d  %s, %s, %d SMs, %.1f GiB\n", d.Ordinal, d.Name, d.Arch, d.SMs, float64(d.MemoryBytes)/(1<<30))
	}
	return err
}

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
//
// Under an MPI launcher each rank of a node takes its own GPU: auto and
// cuda open GPU local-rank mod the node's GPU count.
func (d *deviceFlags) open() (be compute.Backend, close func(), err error) {
	o := backend.Options{Device: d.device, Threads: d.threads, Log: os.Stderr}
	if ok, _ := dist.Launched(os.Getenv); ok {
		o.LocalRank, _ = dist.LocalRank(os.Getenv)
	}
	return backend.Open(o)
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
