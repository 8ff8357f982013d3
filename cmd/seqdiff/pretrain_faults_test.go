package main

// Faults a training run meets on a shared machine, on real processes
// (see TestMain in killresume_test.go): SIGINT/SIGTERM, a second run on
// the same directory, a full disk, a learning rate that blows up.

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/train"
)

// faultArgs is a tiny pre-training run of mode on prep into out.
func faultArgs(mode, prep, out string, steps, ckptEvery int) []string {
	return []string{"pretrain", "--mode", mode, "--data", prep, "--out", out, "--d-model", "16", "--n-layers", "1",
		"--n-heads", "2", "--batch", "4", "--max-steps", strconv.Itoa(steps), "--eval-every", "10", "--eval-rows", "8",
		"--eval-samples", "1", "--ckpt-every", strconv.Itoa(ckptEvery), "--warmup", "5", "--lr", "3e-3", "--threads", "1",
		"--log-every", "0", "--seed", "4"}
}

// faultPrep preps the embedded genome in rows of 64 into dir/prep.
func faultPrep(t *testing.T, dir, tmp string) string {
	t.Helper()
	prep := filepath.Join(dir, "prep")
	seqdiffOK(t, tmp, "prep", "--out", prep, "--seq-len", "64", "--quiet")
	return prep
}

func faultDirs(t *testing.T) (dir, tmp string) {
	dir = t.TempDir()
	tmp = filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, tmp
}

// metricLinesIn counts the lines of RUN/metrics.jsonl (0 when absent).
func metricLinesIn(run string) int {
	b, _ := os.ReadFile(filepath.Join(run, train.MetricsFile))
	return strings.Count(string(b), "\n")
}

// waitFor polls cond every millisecond until it holds or p exits; it
// reports whether cond held.
func waitFor(p *proc, cond func() bool) bool {
	for !p.exited() {
		if cond() {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return cond()
}

// procExitCode is the exit status of p (-1 when it did not exit).
func procExitCode(p *proc) int {
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		return -1
	}
	return 0
}

func checkpointStep(t *testing.T, run string) int {
	t.Helper()
	ck, err := nn.LoadCheckpoint(filepath.Join(run, nn.CheckpointDir))
	if err != nil {
		t.Fatalf("checkpoint does not load: %v", err)
	}
	return int(ck.State["step"].(float64))
}

func checkpointSHAs(t *testing.T, run string) string {
	t.Helper()
	var s []string
	for _, f := range []string{nn.ConfigFile, nn.ModelFile, nn.EMAFile, nn.OptimizerFile, nn.StateFile} {
		s = append(s, sha(t, filepath.Join(run, nn.CheckpointDir, f)))
	}
	return strings.Join(s, " ")
}

// TestPretrainGracefulStop: SIGINT or SIGTERM finishes the step, writes a
// checkpoint whose metrics log ends at its step, exits with status 128 +
// the signal (130 for SIGINT, 143 for SIGTERM) and a line saying how to
// resume; the resumed run ends bit-identical to an
// uninterrupted one. Two signals in a row (the second quits at once)
// still leave a checkpoint that resumes bit-identically.
func TestPretrainGracefulStop(t *testing.T) {
	dir, tmp := faultDirs(t)
	prep := faultPrep(t, dir, tmp)
	const steps = 60
	for _, c := range []struct {
		mode string
		sigs []os.Signal
	}{{"ar", []os.Signal{os.Interrupt}}, {"mlm", []os.Signal{syscall.SIGTERM}}, {"mdlm", []os.Signal{os.Interrupt, os.Interrupt}}} {
		ref := filepath.Join(dir, c.mode+"-ref")
		seqdiffOK(t, tmp, faultArgs(c.mode, prep, ref, steps, 10)...)
		out := filepath.Join(dir, c.mode+"-stopped")
		p := start(t, tmp, faultArgs(c.mode, prep, out, steps, 10)...)
		// Two signals may kill the run before the stop's checkpoint is
		// written (when the second lands after the handler has restored the
		// default action), so they wait for the first periodic checkpoint.
		if !waitFor(p, func() bool {
			_, err := os.Stat(filepath.Join(out, nn.CheckpointDir))
			return metricLinesIn(out) >= 5 && (len(c.sigs) == 1 || err == nil)
		}) {
			t.Fatalf("%s: run ended before 5 steps: %v\n%s", c.mode, p.err, p.stderr.String())
		}
		for _, s := range c.sigs {
			p.cmd.Process.Signal(s)
		}
		signaled := p.wait()
		msg := p.stderr.String()
		resumeLine := "resume with: seqdiff pretrain --out " + out + " --resume"
		if len(c.sigs) == 1 {
			want := 128 + int(c.sigs[0].(syscall.Signal))
			if signaled || procExitCode(p) != want || !strings.Contains(msg, "stopping cleanly") ||
				!strings.Contains(msg, resumeLine) {
				t.Fatalf("%s: %v: exit %d (signaled %v), stderr:\n%s", c.mode, c.sigs[0], procExitCode(p), signaled, msg)
			}
			step := checkpointStep(t, out)
			if !strings.Contains(msg, fmt.Sprintf("interrupted at step %d;", step)) || step < 5 || step >= steps {
				t.Fatalf("%s: checkpoint at step %d, stderr:\n%s", c.mode, step, msg)
			}
			if _, err := os.Stat(filepath.Join(out, train.LockFile)); err == nil {
				t.Fatalf("%s: the lock outlived a graceful stop", c.mode)
			}
		} else if !signaled && procExitCode(p) != 130 {
			t.Fatalf("%s: two signals: %v\n%s", c.mode, p.err, msg)
		}
		seqdiffOK(t, tmp, "pretrain", "--out", out, "--resume")
		sameRun(t, ref, out)
	}
}

// TestPretrainLockTwoRuns: a second run on a run directory in use is
// refused with a message naming the first run's PID; once the first run
// is SIGKILLed its LOCK file stays but no longer blocks a resume.
func TestPretrainLockTwoRuns(t *testing.T) {
	dir, tmp := faultDirs(t)
	prep := faultPrep(t, dir, tmp)
	out := filepath.Join(dir, "run")
	first := start(t, tmp, faultArgs("ar", prep, out, 100000, 2)...)
	defer first.cmd.Process.Kill()
	if !waitFor(first, func() bool { _, err := os.Stat(filepath.Join(out, nn.CheckpointDir)); return err == nil }) {
		t.Fatalf("first run ended: %v\n%s", first.err, first.stderr.String())
	}
	pid := strconv.Itoa(first.cmd.Process.Pid)
	for _, args := range [][]string{faultArgs("ar", prep, out, 100000, 2), {"pretrain", "--out", out, "--resume"}} {
		p := start(t, tmp, args...)
		p.wait()
		msg := p.stderr.String()
		if procExitCode(p) != 1 || !strings.Contains(msg, "run directory "+out+" is in use by process "+pid) {
			t.Fatalf("second run %v: exit %d, stderr:\n%s", args[len(args)-1], procExitCode(p), msg)
		}
	}
	first.cmd.Process.Kill()
	first.wait()
	if _, err := os.Stat(filepath.Join(out, train.LockFile)); err != nil {
		t.Fatalf("a SIGKILLed run should leave its LOCK file (to show it is not trusted): %v", err)
	}
	step := checkpointStep(t, out)
	msg := seqdiffOK(t, tmp, "pretrain", "--out", out, "--resume", "--max-steps", strconv.Itoa(step+2))
	if !strings.Contains(msg, fmt.Sprintf("(from step %d)", step)) || !strings.Contains(msg, fmt.Sprintf("at step %d", step+2)) {
		t.Fatalf("resume after the kill:\n%s", msg)
	}
	if _, err := os.Stat(filepath.Join(out, train.LockFile)); err == nil {
		t.Fatal("LOCK left after a clean finish")
	}
}

// fullDisk is one way to run out of space: a size-limited tmpfs (root
// only; ENOSPC) or a file-size limit on the process (EFBIG).
type fullDisk struct {
	name string
	// dir is where the run's files go; fill leaves about free bytes there,
	// unfill undoes it; env is the process environment for a full run.
	dir    string
	fill   func(free int64)
	unfill func()
	env    []string
	want   string // in the error
	// full: the disk can be filled completely (then no metrics line fits).
	full bool
}

func diskKinds(t *testing.T, dir string) []fullDisk {
	var kinds []fullDisk
	// RLIMIT_FSIZE at 20000 bytes: the 31.6 kB optimizer file of the tiny
	// model, and any prep shard, cannot be written; metrics lines can.
	kinds = append(kinds, fullDisk{name: "fsize", dir: filepath.Join(dir, "fsize"), fill: func(int64) {}, unfill: func() {},
		env: []string{"SEQDIFF_TEST_FSIZE=20000"}, want: "file too large"})
	mnt := filepath.Join(dir, "tmpfs")
	os.Mkdir(mnt, 0o755)
	if os.Geteuid() != 0 {
		t.Log("tmpfs case skipped: not root (the fsize case still runs)")
		return kinds
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Logf("tmpfs case skipped: mount: %v %s", err, out)
		return kinds
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	filler := filepath.Join(mnt, "filler")
	kinds = append(kinds, fullDisk{name: "tmpfs", dir: mnt, want: "no space left on device", full: true,
		fill: func(free int64) { // fill the tmpfs, then give back free bytes
			f, err := os.Create(filler)
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 4096)
			n := int64(0)
			for {
				k, err := f.Write(buf)
				n += int64(k)
				if err != nil {
					break
				}
			}
			f.Truncate(max(n-free, 0))
			f.Close()
		},
		unfill: func() { os.Remove(filler) }})
	return kinds
}

// TestPretrainDiskFull: a full disk during prep fails with a clear error
// and leaves no output; during a checkpoint write it stops the run with
// an error that says the previous checkpoint is intact, which it is
// (same bytes, loads, nothing half-written beside it), and once there is
// space again the run resumes from it and ends bit-identical to a run
// that never met a full disk.
func TestPretrainDiskFull(t *testing.T) {
	dir, tmp := faultDirs(t)
	prep := faultPrep(t, dir, tmp)
	// A FASTA of 300 kb for the file-size limit case (the embedded one is
	// unpacked into TMPDIR first, which the limit would stop instead).
	r := rand.New(rand.NewPCG(1, 2))
	var fa strings.Builder
	fa.WriteString(">chrT\n")
	for i := 0; i < 300_000; i++ {
		fa.WriteByte("ACGT"[r.IntN(4)])
		if i%60 == 59 {
			fa.WriteByte('\n')
		}
	}
	fasta := filepath.Join(dir, "t.fa")
	os.WriteFile(fasta, []byte(fa.String()+"\n"), 0o644)

	ref := filepath.Join(dir, "ref")
	seqdiffOK(t, tmp, faultArgs("mdlm", prep, ref, 10, 5)...)
	seqdiffOK(t, tmp, "pretrain", "--out", ref, "--resume", "--max-steps", "20")

	for _, k := range diskKinds(t, dir) {
		t.Run(k.name, func(t *testing.T) {
			os.MkdirAll(k.dir, 0o755)
			// Prep.
			k.fill(0)
			pout := filepath.Join(k.dir, "prep")
			args := []string{"prep", "--out", pout, "--seq-len", "64", "--quiet"}
			if k.name == "fsize" {
				args = append(args, "--fasta", fasta)
			}
			p := startEnv(t, tmp, k.env, args...)
			p.wait()
			msg := p.stderr.String()
			if procExitCode(p) != 1 || !strings.Contains(msg, k.want) || !strings.Contains(msg, k.dir) {
				t.Fatalf("prep on a full disk: exit %d, stderr:\n%s", procExitCode(p), msg)
			}
			if entries, _ := os.ReadDir(k.dir); len(entries) > 1 || len(entries) == 1 && entries[0].Name() != "filler" {
				t.Fatalf("prep on a full disk left %v", entries)
			}
			t.Logf("prep: %s", strings.TrimSpace(msg))
			k.unfill()

			// A checkpoint write.
			out := filepath.Join(k.dir, "run")
			seqdiffOK(t, tmp, faultArgs("mdlm", prep, out, 10, 5)...)
			before := checkpointSHAs(t, out)
			k.fill(12 << 10) // room for metrics lines, not for a checkpoint
			p = startEnv(t, tmp, k.env, "pretrain", "--out", out, "--resume", "--max-steps", "20")
			p.wait()
			msg = p.stderr.String()
			if procExitCode(p) != 1 || !strings.Contains(msg, k.want) || !strings.Contains(msg, "step 15: checkpoint not written") ||
				!strings.Contains(msg, "the previous checkpoint in "+filepath.Join(out, "checkpoint")+" is intact") {
				t.Fatalf("checkpoint on a full disk: exit %d, stderr:\n%s", procExitCode(p), msg)
			}
			t.Logf("checkpoint: %s", strings.TrimSpace(msg[strings.LastIndex(strings.TrimSpace(msg), "\n")+1:]))
			if after := checkpointSHAs(t, out); after != before {
				t.Fatal("the previous checkpoint changed")
			}
			if step := checkpointStep(t, out); step != 10 {
				t.Fatalf("checkpoint at step %d, want 10", step)
			}
			if tmps, olds := leftovers(out); len(tmps)+len(olds) > 0 {
				t.Fatalf("half-written checkpoint left: %v %v", tmps, olds)
			}
			k.unfill()
			if k.full { // no room at all: train.yaml or a metrics line fails
				k.fill(0)
				p = startEnv(t, tmp, k.env, "pretrain", "--out", out, "--resume", "--max-steps", "20")
				p.wait()
				msg = p.stderr.String()
				if procExitCode(p) != 1 || !strings.Contains(msg, k.want) ||
					!strings.Contains(msg, "the last good checkpoint stays in "+filepath.Join(out, "checkpoint")) {
					t.Fatalf("resume on a full disk: exit %d, stderr:\n%s", procExitCode(p), msg)
				}
				t.Logf("resume: %s", strings.TrimSpace(msg[strings.LastIndex(strings.TrimSpace(msg), "\n")+1:]))
				if after := checkpointSHAs(t, out); after != before {
					t.Fatal("the previous checkpoint changed")
				}
				k.unfill()
			}
			seqdiffOK(t, tmp, "pretrain", "--out", out, "--resume", "--max-steps", "20")
			sameRun(t, ref, out)
		})
	}
}

// TestPretrainNonFinite: --lr 1e20 makes the loss NaN within a few steps
// (1e3 does with the SIMD kernels, but the scalar ones can stay finite on
// this tiny model, so the test uses a rate that overflows float32 on any path):
// each bad step is skipped and reported, --max-bad-steps of them in a row
// stop the run with status 1 and a clear error, the last good checkpoint
// keeps its bytes and finite weights, and the run goes on from it with a
// sane learning rate.
func TestPretrainNonFinite(t *testing.T) {
	dir, tmp := faultDirs(t)
	prep := faultPrep(t, dir, tmp)
	out := filepath.Join(dir, "run")
	seqdiffOK(t, tmp, faultArgs("ar", prep, out, 10, 5)...)
	before := checkpointSHAs(t, out)
	p := start(t, tmp, "pretrain", "--out", out, "--resume", "--max-steps", "40", "--lr", "1e20", "--warmup", "0",
		"--ckpt-every", "1000", "--max-bad-steps", "3")
	p.wait()
	msg := p.stderr.String()
	if procExitCode(p) != 1 || !strings.Contains(msg, "update skipped (1 in a row)") || !strings.Contains(msg, "update skipped (3 in a row)") ||
		!strings.Contains(msg, "3 steps in a row had a non-finite loss or gradient norm") ||
		!strings.Contains(msg, "the last good checkpoint stays in "+filepath.Join(out, "checkpoint")) {
		t.Fatalf("lr 1e20: exit %d, stderr:\n%s", procExitCode(p), msg)
	}
	if after := checkpointSHAs(t, out); after != before {
		t.Fatal("the last good checkpoint changed")
	}
	ck, err := nn.LoadCheckpoint(filepath.Join(out, nn.CheckpointDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range append(append(ck.Params, ck.EMA...), ck.M...) {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatal("a non-finite value in the last good checkpoint")
		}
	}
	skipped := 0
	for _, l := range readMetrics(t, out) {
		if l.Skipped == "non-finite" {
			skipped++
		}
	}
	if skipped != 3 {
		t.Fatalf("%d metrics lines marked non-finite, want 3", skipped)
	}
	msg = seqdiffOK(t, tmp, "pretrain", "--out", out, "--resume", "--max-steps", "20", "--lr", "3e-3", "--ckpt-every", "5")
	if !strings.Contains(msg, "(from step 10)") || !strings.Contains(msg, "at step 20") {
		t.Fatalf("resume with a sane lr:\n%s", msg)
	}
	if n := len(readMetrics(t, out)); n < 20 || n > 22 {
		t.Fatalf("%d metrics lines after the resume: the skipped steps were not cut from the log", n)
	}

	// Without any checkpoint the error says so.
	fresh := filepath.Join(dir, "fresh")
	args := faultArgs("ar", prep, fresh, 40, 1000)
	args = append(args, "--lr", "1e20", "--warmup", "0", "--max-bad-steps", "2")
	p = start(t, tmp, args...)
	p.wait()
	if msg := p.stderr.String(); procExitCode(p) != 1 || !strings.Contains(msg, "no checkpoint was written yet") {
		t.Fatalf("lr 1e20 from scratch: exit %d, stderr:\n%s", procExitCode(p), msg)
	}
}
