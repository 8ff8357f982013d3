package train

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/compute/cpu"
	"github.com/seqdiff/seqdiff/dist"
	"github.com/seqdiff/seqdiff/nn"
)

// TestRanksDiverge runs this test binary on 2 MPI ranks (when mpirun is
// installed) and changes rank 1's update: the weights checksums differ at
// the next check, and both ranks stop with an error that says so.
func TestRanksDiverge(t *testing.T) {
	if os.Getenv("SEQDIFF_TRAIN_MPI_CHILD") == "1" {
		divergeChild(t)
		return
	}
	bin, err := exec.LookPath("mpirun")
	if err != nil {
		t.Skip("mpirun not installed (apt-get install openmpi-bin): the ranks' weights check is not tested")
	}
	cmd := exec.Command(bin, "--allow-run-as-root", "--oversubscribe", "-np", "2", os.Args[0], "-test.run", "^TestRanksDiverge$", "-test.v")
	cmd.Env = append(os.Environ(), "SEQDIFF_TRAIN_MPI_CHILD=1", "SEQDIFF_TRAIN_MPI_OUT="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Count(string(out), "--- PASS: TestRanksDiverge") != 2 {
		t.Fatalf("mpirun: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

func divergeChild(t *testing.T) {
	comm, err := dist.Init()
	if err != nil || comm.Size() != 2 {
		t.Fatalf("MPI: %v, %d ranks", err, comm.Size())
	}
	defer comm.Finalize()
	cfg := tinyConfig(t, nn.ModeAR)
	cfg.Out = os.Getenv("SEQDIFF_TRAIN_MPI_OUT")
	cfg.DModel, cfg.NLayers, cfg.Threads, cfg.MaxSteps, cfg.EvalEvery = 16, 1, 1, 8, 0
	tr, err := NewDist(cpu.New(cfg.Threads), cfg, memData(markovRows(40, 32, 1), nil, nil), false, comm)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	tr.CheckEvery = 2
	if comm.Rank() == 1 {
		tr.afterBackward = func(m *nn.Model) {
			if tr.Step() == 3 {
				m.Grads().Host[0] += 1e-3
			}
		}
	}
	_, err = tr.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "step 4: the weights of rank(s) 1 differ from rank 0's") {
		t.Fatalf("rank %d: Run = %v, want the weights check's error at step 4", comm.Rank(), err)
	}
	t.Logf("rank %d: %v", comm.Rank(), err)
}
