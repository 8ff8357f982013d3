package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/compute/cuda"
)

// TestPretrainMPIGPU trains a tiny model data-parallel on 2 and 3 GPU ranks,
// summing the gradients with NCCL, and then through host memory and MPI
// (SEQDIFF_NCCL=0), and checks both against one GPU process; then kills a
// rank mid-run and resumes on 3 ranks (as TestPretrainMPIKill). It runs on the
// emulated device (make test-cuda-emu: processes, each with its own
// emulated GPU, joined by its NCCL stand-in) and on a machine with 2 GPUs;
// it skips without a GPU.
func TestPretrainMPIGPU(t *testing.T) {
	be, err := cuda.New(cuda.Options{})
	if errors.Is(err, cuda.ErrNoDevice) {
		t.Skipf("no CUDA device: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	name := be.DeviceName()
	be.Close()
	if n, _ := cuda.DeviceCount(); n < 2 && !strings.Contains(name, "emulator") {
		t.Skipf("%d GPU: NCCL needs a GPU per rank", n)
	}
	dir, tmp, prep := mpiPrep(t)
	args := func(out string) []string {
		return []string{"pretrain", "--device", "cuda", "--mode", "mdlm", "--data", prep, "--out", out, "--d-model", "16",
			"--n-layers", "1", "--n-heads", "2", "--batch", "6", "--max-steps", "3", "--seed", "5", "--lr", "3e-3",
			"--warmup", "1", "--eval-every", "0", "--log-every", "1", "--check-every", "2"}
	}
	ref := filepath.Join(dir, "one")
	seqdiffOK(t, tmp, args(ref)...)
	for _, c := range []struct {
		name, env, says string
		ranks           int
	}{
		{"nccl-2", "", "with NCCL", 2},
		{"nccl-3", "", "with NCCL", 3},
		{"host-2", "0", "", 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("SEQDIFF_NCCL", c.env)
			out := filepath.Join(dir, c.name)
			log, err := mpirun(t, tmp, c.ranks, args(out)...)
			if err != nil {
				t.Fatalf("mpirun -np %d: %v\n%s", c.ranks, err, log)
			}
			banner := ""
			for _, l := range strings.Split(log, "\n") {
				if strings.HasPrefix(l, "data-parallel over") {
					banner = l
				}
			}
			t.Log(banner)
			if banner == "" || (c.says != "") != strings.Contains(banner, "with NCCL") {
				t.Fatalf("the banner should say whether NCCL sums the gradients (%q):\n%s", c.says, log)
			}
			sameAsOneProcess(t, "GPU ranks ("+c.name+") after 3 steps", ref, out)
		})
	}
	// A GPU rank killed mid-run (its peers may be inside an all-reduce)
	// ends the job; the checkpoint resumes on 3 GPU ranks.
	t.Run("kill", func(t *testing.T) { mpiKillResume(t, openMPI, "--device", "cuda") })
	if entries, _ := os.ReadDir("/dev/shm"); len(entries) > 0 {
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "seqdiff-emu-nccl") {
				t.Errorf("the emulated NCCL left /dev/shm/%s behind", e.Name())
			}
		}
	}
}
