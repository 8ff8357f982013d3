package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seqdiff/seqdiff/finetune"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/train"
)

// launcher is an MPI implementation's job launcher, as the tests run it.
type launcher struct {
	bin     string   // looked up in PATH
	args    []string // before -np
	install string   // what installs it, for a skip
}

var (
	// openMPI is Open MPI's mpirun (Debian's default mpirun alternative).
	openMPI = launcher{"mpirun", []string{"--allow-run-as-root", "--oversubscribe"}, "apt-get install openmpi-bin"}
	// mpich is MPICH's Hydra mpiexec, under its Debian name (it needs
	// neither flag: it runs as root and oversubscribes as it is).
	mpich = launcher{"mpirun.mpich", nil, "apt-get install mpich"}
)

// path is the launcher's path, or a skip of t.
func (l launcher) path(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath(l.bin)
	if err != nil {
		t.Skipf("%s not installed (%s): data-parallel training is not tested on it", l.bin, l.install)
	}
	return bin
}

// command is the launcher running this test binary as seqdiff args on n
// ranks, with TMPDIR tmp.
func (l launcher) command(t *testing.T, tmp string, n int, args ...string) *exec.Cmd {
	t.Helper()
	bin := l.path(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append(append(append([]string{}, l.args...), "-np", strconv.Itoa(n), exe), args...)...)
	cmd.Env = append(os.Environ(), asMainEnv+"=1", "TMPDIR="+tmp)
	return cmd
}

// run runs command and returns its output.
func (l launcher) run(t *testing.T, tmp string, n int, args ...string) (string, error) {
	t.Helper()
	out, err := l.command(t, tmp, n, args...).CombinedOutput()
	return string(out), err
}

// mpirun is Open MPI's mpirun -np n running this test binary as seqdiff args.
func mpirun(t *testing.T, tmp string, n int, args ...string) (string, error) {
	t.Helper()
	return openMPI.run(t, tmp, n, args...)
}

// mpiPrep skips the test without Open MPI's mpirun, else makes its
// folder, a TMPDIR for the ranks and a tiny prep dir (the embedded slice,
// rows of 32).
func mpiPrep(t *testing.T) (dir, tmp, prep string) {
	t.Helper()
	return mpiPrepFor(t, openMPI)
}

// mpiPrepFor is mpiPrep for launcher l.
func mpiPrepFor(t *testing.T, l launcher) (dir, tmp, prep string) {
	t.Helper()
	l.path(t)
	dir = t.TempDir()
	tmp = filepath.Join(dir, "tmp")
	os.Mkdir(tmp, 0o755)
	prep = filepath.Join(dir, "prep")
	seqdiffOK(t, tmp, "prep", "--out", prep, "--seq-len", "32", "--quiet")
	return dir, tmp, prep
}

// sameAsOneProcess checks the weights of a data-parallel run (dir out)
// against one process's (dir ref). The step is the one-process step in
// exact arithmetic; in float32 the gradients' sums run in another order,
// and Adam's m/sqrt(v) turns a rounding difference in a near-zero gradient
// into one of up to lr in a weight: so the bound is on the largest
// difference over the largest weight, and on the L2 distance.
func sameAsOneProcess(t *testing.T, what, ref, out string) {
	t.Helper()
	elem, maxRel, l2 := weightsDiff(t, ref, out)
	t.Logf("%s vs 1 process: max |diff| / max |w| %.3g, relative L2 %.3g, max element-wise relative %.3g", what, maxRel, l2, elem)
	if maxRel > 1e-5 || l2 > 1e-6 {
		t.Errorf("%s: weights differ from one process's: max |diff| / max |w| %.3g (want <= 1e-5), relative L2 %.3g (want <= 1e-6)", what, maxRel, l2)
	}
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
	dir, tmp, prep := mpiPrep(t)
	for _, c := range []struct {
		mode  string
		batch []string
		ranks []int
	}{
		{"mdlm", []string{"--batch", "6"}, []int{2, 3}},
		{"ar", []string{"--batch", "6"}, []int{2, 3}},
		// Gradient accumulation: 2 micro-batches of 4 rows, 2 rows per rank.
		{"mlm", []string{"--batch", "4", "--accum", "2"}, []int{2}},
	} {
		mode := c.mode
		t.Run(mode, func(t *testing.T) {
			args := func(out string, steps int) []string {
				return append([]string{"pretrain", "--mode", mode, "--data", prep, "--out", out, "--d-model", "16", "--n-layers", "1",
					"--n-heads", "2", "--max-steps", strconv.Itoa(steps), "--threads", "1", "--seed", "3",
					"--lr", "3e-3", "--warmup", "1", "--eval-every", "0", "--log-every", "1", "--check-every", "2"}, c.batch...)
			}
			ref := filepath.Join(dir, mode+"-1")
			seqdiffOK(t, tmp, args(ref, 5)...)
			for _, n := range c.ranks {
				out := filepath.Join(dir, mode+"-"+strconv.Itoa(n))
				log, err := mpirun(t, tmp, n, args(out, 5)...)
				if err != nil {
					t.Fatalf("mpirun -np %d: %v\n%s", n, err, log)
				}
				if !strings.Contains(log, "data-parallel over "+strconv.Itoa(n)+" MPI ranks") || strings.Count(log, "step 5/5") != 1 {
					t.Fatalf("mpirun -np %d: rank 0 alone should report, once per step:\n%s", n, log)
				}
				sameAsOneProcess(t, fmt.Sprintf("%s, %d ranks after 5 steps", mode, n), ref, out)
				if b, err := os.ReadFile(filepath.Join(out, train.MetricsFile)); err != nil || strings.Count(string(b), `"allreduce_s":`) != 5 {
					t.Errorf("mpirun -np %d: every step's metrics line should carry allreduce_s (%v):\n%s", n, err, b)
				}
			}
		})
	}
	// A budget-only run: its decay plan comes from rank 0's clock and is
	// agreed before each step (a rank on another learning rate would fail
	// the weights check, every 10 steps here).
	log, err := mpirun(t, tmp, 2, "pretrain", "--mode", "ar", "--data", prep, "--out", filepath.Join(dir, "budget"), "--d-model", "16",
		"--n-layers", "1", "--n-heads", "2", "--batch", "6", "--time-budget", "1s", "--threads", "1", "--check-every", "10", "--eval-every", "0")
	// (On a loaded machine the safety stop may come before the decay is
	// complete: either is a clean end.)
	if err != nil || !strings.Contains(log, "done: ") {
		t.Fatalf("budget-only run on 2 ranks: %v\n%s", err, log)
	}
	// A batch the ranks cannot split is refused, and the job ends.
	log, err = mpirun(t, tmp, 4, "pretrain", "--mode", "ar", "--data", prep, "--out", filepath.Join(dir, "bad"), "--d-model", "16",
		"--n-layers", "1", "--n-heads", "2", "--batch", "6", "--max-steps", "2", "--threads", "1")
	if err == nil || !strings.Contains(log, "batch 6 over 4 ranks") {
		t.Fatalf("batch 6 over 4 ranks: %v\n%s", err, log)
	}
}

// rankPID finds the process of MPI rank r among pid's descendants (Open
// MPI's mpirun starts a node's ranks itself, Hydra through a proxy), by
// the rank variable its launcher set, or 0.
func rankPID(pid, r int) int {
	want := map[string]bool{"OMPI_COMM_WORLD_RANK=" + strconv.Itoa(r): true, "PMI_RANK=" + strconv.Itoa(r): true}
	tasks, _ := filepath.Glob(filepath.Join("/proc", strconv.Itoa(pid), "task", "*", "children"))
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, c := range strings.Fields(string(b)) {
			n, _ := strconv.Atoi(c)
			env, _ := os.ReadFile(filepath.Join("/proc", c, "environ"))
			for _, kv := range strings.Split(string(env), "\x00") {
				if want[kv] {
					return n
				}
			}
			// Hydra starts the ranks under a proxy process.
			if d := rankPID(n, r); d != 0 {
				return d
			}
		}
	}
	return 0
}

// TestPretrainMPIKill SIGKILLs rank 1 of a 2-rank run: the whole job
// ends, the last checkpoint is intact, and the run resumes from it on 3
// ranks, to the weights of one process resumed from the same checkpoint.
func TestPretrainMPIKill(t *testing.T) {
	mpiKillResume(t, openMPI)
}

// TestPretrainMPICHKill is TestPretrainMPIKill under MPICH's Hydra.
func TestPretrainMPICHKill(t *testing.T) {
	needMPICH(t)
	mpiKillResume(t, mpich)
}

// mpiKillResume is TestPretrainMPIKill under launcher l, with dev
// (--device …) added to every run.
func mpiKillResume(t *testing.T, l launcher, dev ...string) {
	dir, tmp, prep := mpiPrepFor(t, l)
	out := filepath.Join(dir, "run")
	cmd := l.command(t, tmp, 2, append([]string{"pretrain", "--mode", "mdlm", "--data", prep,
		"--out", out, "--d-model", "16", "--n-layers", "1", "--n-heads", "2", "--batch", "6", "--max-steps", "1000000",
		"--threads", "1", "--seed", "3", "--eval-every", "0", "--log-every", "0", "--ckpt-every", "1"}, dev...)...)
	log := newLockedBuffer()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer cmd.Process.Kill()
	// Wait for a few checkpoints, then kill rank 1.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if ck, err := nn.LoadCheckpoint(filepath.Join(out, nn.CheckpointDir)); err == nil && ck.State["step"].(float64) >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint at step 5 within a minute:\n%s", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	r1 := rankPID(cmd.Process.Pid, 1)
	if r1 == 0 {
		t.Skipf("rank 1's process not found under %s (no /proc/PID/task/*/children?)", l.bin)
	}
	if err := syscall.Kill(r1, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("%s exited 0 after rank 1 was killed:\n%s", l.bin, log)
		}
		// Both launchers name the signal: "exited on signal 9 (Killed)",
		// "EXIT STRING: Killed (signal 9)".
		if !strings.Contains(log.String(), "Killed") {
			t.Fatalf("%s's output does not say that a rank was killed:\n%s", l.bin, log)
		}
		t.Logf("rank 1 killed: %s ended the job (%v):\n%s", l.bin, err, log)
	case <-time.After(60 * time.Second):
		t.Fatalf("the job did not end within a minute of rank 1's SIGKILL:\n%s", log)
	}
	// A kill may land inside rank 0's checkpoint write: what it leaves is
	// put back as after a one-process kill (which --resume also does).
	ckDir := filepath.Join(out, nn.CheckpointDir)
	if err := train.RecoverCheckpoint(ckDir); err != nil {
		t.Fatal(err)
	}
	ck, err := nn.LoadCheckpoint(ckDir)
	if err != nil {
		t.Fatalf("the last checkpoint is not intact after the kill: %v\n%s", err, log)
	}
	step := int(ck.State["step"].(float64))
	// Resume on 3 ranks and, from a copy, on one process.
	one := filepath.Join(dir, "one")
	if err := exec.Command("cp", "-a", out, one).Run(); err != nil {
		t.Fatal(err)
	}
	to := strconv.Itoa(step + 3)
	if log, err := l.run(t, tmp, 3, append([]string{"pretrain", "--out", out, "--resume", "--max-steps", to, "--check-every", "1"}, dev...)...); err != nil {
		t.Fatalf("resume on 3 ranks from step %d: %v\n%s", step, err, log)
	}
	seqdiffOK(t, tmp, append([]string{"pretrain", "--out", one, "--resume", "--max-steps", to}, dev...)...)
	sameAsOneProcess(t, fmt.Sprintf("resumed from step %d to %s on 3 ranks", step, to), one, out)
}

// TestFinetuneMPI: generative fine-tuning from a backbone is data-parallel
// as pretrain is: 2 ranks end at one process's weights.
func TestFinetuneMPI(t *testing.T) {
	dir, tmp, prep := mpiPrep(t)
	mlm := filepath.Join(dir, "mlm")
	seqdiffOK(t, tmp, "pretrain", "--mode", "mlm", "--data", prep, "--out", mlm, "--d-model", "16", "--n-layers", "1", "--n-heads", "2",
		"--max-steps", "3", "--threads", "1", "--batch", "4", "--eval-every", "0")
	args := func(out string) []string {
		return []string{"finetune", "--mode", "mdlm", "--from", mlm, "--data", prep, "--out", out, "--max-steps", "4", "--batch", "6",
			"--lr", "3e-3", "--warmup", "1", "--eval-every", "0", "--threads", "1"}
	}
	ref := filepath.Join(dir, "ft-1")
	seqdiffOK(t, tmp, args(ref)...)
	out := filepath.Join(dir, "ft-2")
	log, err := mpirun(t, tmp, 2, args(out)...)
	if err != nil {
		t.Fatalf("mpirun -np 2 finetune: %v\n%s", err, log)
	}
	sameAsOneProcess(t, "finetune mdlm, 2 ranks after 4 steps", ref, out)
	if _, err := os.Stat(filepath.Join(out, finetune.FromFile)); err != nil {
		t.Errorf("rank 0 did not record the origin: %v", err)
	}
}

// TestPretrainMPICH runs the tiny mdlm pretrain on 2 ranks under MPICH's
// mpiexec (Hydra: PMI_RANK, PMI_SIZE, no Open MPI variables), with no
// SEQDIFF_MPI_LIB where Open MPI may be installed too: dist must pick
// MPICH's library and end at one process's weights. A failure on rank 0
// alone (its run dir is locked) must end the whole job through MPI_Abort.
func TestPretrainMPICH(t *testing.T) {
	needMPICH(t)
	dir, tmp, prep := mpiPrepFor(t, mpich)
	args := func(out string) []string {
		return []string{"pretrain", "--mode", "mdlm", "--data", prep, "--out", out, "--d-model", "16", "--n-layers", "1",
			"--n-heads", "2", "--max-steps", "5", "--threads", "1", "--seed", "3", "--lr", "3e-3", "--warmup", "1",
			"--eval-every", "0", "--log-every", "1", "--check-every", "2", "--batch", "6"}
	}
	ref := filepath.Join(dir, "mdlm-1")
	seqdiffOK(t, tmp, args(ref)...)
	out := filepath.Join(dir, "mdlm-2")
	cmd := mpich.command(t, tmp, 2, args(out)...)
	cmd.Env = append(cmd.Env, "SEQDIFF_MPI_LIB=")
	log, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mpirun.mpich -np 2: %v\n%s", err, log)
	}
	if !strings.Contains(string(log), "data-parallel over 2 MPI ranks (MPICH, ") || strings.Count(string(log), "step 5/5") != 1 {
		t.Fatalf("mpirun.mpich -np 2: want MPICH's 2 ranks, rank 0 alone reporting:\n%s", log)
	}
	sameAsOneProcess(t, "mdlm on MPICH, 2 ranks after 5 steps", ref, out)

	// Rank 0 fails alone (its run dir is locked here), rank 1 waits in
	// its first collective: MPI_Abort must end both.
	busy := filepath.Join(dir, "busy")
	os.Mkdir(busy, 0o755)
	unlock, err := train.Lock(busy)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	cmd = mpich.command(t, tmp, 2, args(busy)...)
	buf := newLockedBuffer()
	cmd.Stdout, cmd.Stderr = buf, buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(buf.String(), "rank 0 of 2") || !strings.Contains(buf.String(), "in use") {
			t.Fatalf("rank 0 failing alone: %v\n%s", err, buf)
		}
		t.Logf("rank 0 failed alone: the MPICH job ended (%v)", err)
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the MPICH job did not end within a minute of rank 0's failure:\n%s", buf)
	}
}

// needMPICH skips t without MPICH's library.
func needMPICH(t *testing.T) {
	t.Helper()
	if !haveLib("libmpich.so.12", "libmpi.so.12") {
		t.Skip("no MPICH library (libmpich.so.12 or libmpi.so.12; apt-get install mpich): data-parallel training is not tested on MPICH")
	}
}

// haveLib reports whether one of the libraries is in the dynamic
// linker's usual directories or LD_LIBRARY_PATH.
func haveLib(names ...string) bool {
	dirs := append(filepath.SplitList(os.Getenv("LD_LIBRARY_PATH")), "/usr/lib/*-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib", "/usr/local/lib64")
	for _, d := range dirs {
		for _, n := range names {
			if m, _ := filepath.Glob(filepath.Join(d, n)); len(m) > 0 {
				return true
			}
		}
	}
	return false
}
