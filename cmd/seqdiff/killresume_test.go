package main

// Kill-and-resume harness: real seqdiff processes (this test binary run as
// the command, see TestMain) are SIGKILLed at random points, at random
// checkpoint writes, and resumed; the result must be bit-identical to an
// uninterrupted run. SEQDIFF_KILLS sets the kills per mode and for the
// study (default 3, the CI size; SEQDIFF_STUDY_KILLS for the study alone); SEQDIFF_KILL_SEED fixes the kill schedule.
// scripts/kill-resume.sh runs it large.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/train"
)

// asMainEnv makes the test binary behave as the seqdiff command.
const asMainEnv = "SEQDIFF_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		// A file-size limit in bytes (tests of a full disk without root):
		// writes past it fail with EFBIG (Go ignores SIGXFSZ).
		if n, err := strconv.ParseUint(os.Getenv("SEQDIFF_TEST_FSIZE"), 10, 64); err == nil {
			if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: n, Max: n}); err != nil {
				fmt.Fprintln(os.Stderr, "setrlimit:", err)
				os.Exit(2)
			}
		}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// proc is a seqdiff process started by a test.
type proc struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan struct{}
	err    error
}

type lockedBuffer struct {
	mu  chan struct{}
	buf bytes.Buffer
	// lines counts complete lines written so far.
	lines atomic.Int64
}

func newLockedBuffer() *lockedBuffer { return &lockedBuffer{mu: make(chan struct{}, 1)} }

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	b.lines.Add(int64(bytes.Count(p, []byte("\n"))))
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.String()
}

// start runs seqdiff args in the background with TMPDIR set to tmp.
func start(t *testing.T, tmp string, args ...string) *proc {
	return startEnv(t, tmp, nil, args...)
}

// startEnv is start with more environment variables.
func startEnv(t *testing.T, tmp string, env []string, args ...string) *proc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: exec.Command(exe, args...), stderr: newLockedBuffer(), done: make(chan struct{})}
	p.cmd.Env = append(append(os.Environ(), asMainEnv+"=1", "TMPDIR="+tmp), env...)
	p.cmd.Stderr, p.cmd.Stdout = p.stderr, io.Discard
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	return p
}

// wait waits for p to exit; it reports whether a signal ended it.
func (p *proc) wait() (signaled bool) {
	<-p.done
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled()
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// seqdiffOK runs seqdiff args to completion and fails the test on an error.
func seqdiffOK(t *testing.T, tmp string, args ...string) string {
	t.Helper()
	p := start(t, tmp, args...)
	p.wait()
	if p.err != nil {
		t.Fatalf("seqdiff %s: %v\n%s", strings.Join(args, " "), p.err, p.stderr.String())
	}
	return p.stderr.String()
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v >= 0 {
		return v
	}
	return def
}

func killRNG(t *testing.T) *rand.Rand {
	seed := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(os.Getenv("SEQDIFF_KILL_SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Logf("kill schedule seed %d (SEQDIFF_KILL_SEED=%d reproduces the choices, not the timings)", seed, seed)
	return rand.New(rand.NewPCG(seed, 1))
}

// leftovers lists the names in dir a checkpoint write leaves when killed.
func leftovers(dir string) (tmps, olds []string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		switch n := e.Name(); {
		case strings.HasPrefix(n, ".checkpoint.tmp-"):
			tmps = append(tmps, n)
		case strings.HasPrefix(n, ".checkpoint.old-"):
			olds = append(olds, n)
		}
	}
	return tmps, olds
}

// killAtWrite SIGKILLs p at its nth checkpoint write after start: as soon
// as the nth new temporary (phase "tmp": files being written) or aside
// directory (phase "old": new checkpoint just swapped in) appears in dir.
// It reports false when p exited first.
func killAtWrite(p *proc, dir, phase string, nth int) bool {
	seen := map[string]bool{}
	for !p.exited() {
		tmps, olds := leftovers(dir)
		names := tmps
		if phase == "old" {
			names = olds
		}
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				if len(seen) >= nth {
					p.cmd.Process.Kill()
					return true
				}
			}
		}
		time.Sleep(100 * time.Microsecond)
	}
	return false
}

func sha(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// trainLine is the part of a metrics.jsonl line that must not depend on
// interruptions (elapsed and tokens/s do).
type trainLine struct {
	Step      int      `json:"step"`
	Tokens    int64    `json:"tokens"`
	Loss      *float64 `json:"loss"`
	LR        float64  `json:"lr"`
	GradNorm  *float64 `json:"grad_norm"`
	ValidLoss *float64 `json:"valid_loss"`
	Skipped   string   `json:"skipped"`
}

func (l trainLine) key() string {
	f := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return strconv.FormatFloat(*p, 'g', -1, 64)
	}
	return fmt.Sprintf("%d %d %s %v %s %s %s", l.Step, l.Tokens, f(l.Loss), l.LR, f(l.GradNorm), f(l.ValidLoss), l.Skipped)
}

func readMetrics(t *testing.T, runDir string) []trainLine {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(runDir, train.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	var out []trainLine
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		var l trainLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("%s line %d %q: %v", train.MetricsFile, i+1, line, err)
		}
		out = append(out, l)
	}
	return out
}

// sameRun checks that run directory got ends exactly as want: the same
// bytes of model, EMA and optimizer safetensors, the same step, tokens,
// RNG state and data cursor, one metrics line per step 1..N (no step
// missing or repeated) equal to want's, and nothing left over.
func sameRun(t *testing.T, want, got string) {
	t.Helper()
	for _, f := range []string{nn.ModelFile, nn.EMAFile, nn.OptimizerFile} {
		a, b := sha(t, filepath.Join(want, nn.CheckpointDir, f)), sha(t, filepath.Join(got, nn.CheckpointDir, f))
		if a != b {
			t.Errorf("%s: sha256 %s uninterrupted, %s killed and resumed", f, a[:16], b[:16])
		}
	}
	type st struct {
		Step   int             `json:"step"`
		Tokens int64           `json:"tokens"`
		RNG    string          `json:"rng"`
		Cursor json.RawMessage `json:"cursor"`
	}
	var sa, sb st
	for _, x := range []struct {
		dir string
		s   *st
	}{{want, &sa}, {got, &sb}} {
		b, err := os.ReadFile(filepath.Join(x.dir, nn.CheckpointDir, nn.StateFile))
		if err != nil || json.Unmarshal(b, x.s) != nil {
			t.Fatalf("state.json of %s: %v", x.dir, err)
		}
	}
	if sa.Step != sb.Step || sa.Tokens != sb.Tokens || sa.RNG != sb.RNG || !bytes.Equal(sa.Cursor, sb.Cursor) {
		t.Errorf("state.json differs: %+v vs %+v", sa, sb)
	}
	ma, mb := readMetrics(t, want), readMetrics(t, got)
	next := 1
	for i, l := range mb {
		if l.Loss != nil || l.Skipped != "" { // a training step's line
			if l.Step != next {
				t.Fatalf("metrics line %d is step %d, want step %d (a step missing or repeated)", i+1, l.Step, next)
			}
			next++
		}
	}
	if next-1 != sb.Step {
		t.Errorf("metrics log ends at step %d, the checkpoint at %d", next-1, sb.Step)
	}
	if len(ma) != len(mb) {
		t.Fatalf("%d metrics lines uninterrupted, %d killed and resumed", len(ma), len(mb))
	}
	for i := range ma {
		if ma[i].key() != mb[i].key() {
			t.Fatalf("metrics line %d differs:\n  uninterrupted %s\n  resumed       %s", i+1, ma[i].key(), mb[i].key())
		}
	}
	tmps, olds := leftovers(got)
	if len(tmps)+len(olds) > 0 {
		t.Errorf("left in the run dir: %v %v", tmps, olds)
	}
	if _, err := os.Stat(filepath.Join(got, train.LockFile)); err == nil {
		t.Errorf("%s left in the run dir", train.LockFile)
	}
}

// killStats counts the kills of one harness run by where they landed.
type killStats struct {
	kills, inWrite, afterSwap, noCheckpoint int
}

func (k killStats) String() string {
	return fmt.Sprintf("%d kills survived: %d inside a checkpoint write (temporary present), %d between or after the swap (aside present), %d before the first checkpoint",
		k.kills, k.inWrite, k.afterSwap, k.noCheckpoint)
}

// classify looks at run dir after a kill.
func (k *killStats) classify(dir string) {
	k.kills++
	tmps, olds := leftovers(dir)
	switch {
	case len(olds) > 0:
		k.afterSwap++
	case len(tmps) > 0:
		k.inWrite++
	}
	if _, err := os.Stat(filepath.Join(dir, nn.CheckpointDir)); err != nil && len(olds) == 0 {
		k.noCheckpoint++
	}
}

// TestKillResumePretrain: for mlm, mdlm and ar, a run SIGKILLed again and
// again (at random times, while a checkpoint is being written, right
// after one was swapped in) and resumed each time with
// `seqdiff pretrain --out RUN --resume` ends bit-identical to the
// uninterrupted run.
func TestKillResumePretrain(t *testing.T) {
	kills := envInt("SEQDIFF_KILLS", 3)
	if kills == 0 {
		t.Skip("SEQDIFF_KILLS=0")
	}
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp")
	os.Mkdir(tmp, 0o755)
	prep := filepath.Join(dir, "prep")
	seqdiffOK(t, tmp, "prep", "--out", prep, "--seq-len", "64", "--quiet")
	rng := killRNG(t)
	steps := 30 + 5*kills
	for _, mode := range []string{"mlm", "mdlm", "ar"} {
		// ar runs on 2 threads: bit-identical holds for the same count
		// (compute/cpu's partition is fixed by shapes and thread count, and
		// --resume takes --threads from the run's train.yaml).
		threads := map[bool]string{true: "2", false: "1"}[mode == "ar"]
		// mlm accumulates gradients: 2 micro-batches of 2 rows a step.
		batch := map[bool][]string{true: {"--batch", "2", "--accum", "2"}, false: {"--batch", "4"}}[mode == "mlm"]
		t.Run(mode, func(t *testing.T) {
			args := func(out string) []string {
				return append([]string{"pretrain", "--mode", mode, "--data", prep, "--out", out, "--d-model", "16", "--n-layers", "1",
					"--n-heads", "2", "--max-steps", strconv.Itoa(steps), "--eval-every", "10", "--eval-rows", "8",
					"--eval-samples", "1", "--ckpt-every", "1", "--warmup", "5", "--lr", "3e-3", "--threads", threads,
					"--log-every", "0", "--seed", "3"}, batch...)
			}
			ref := filepath.Join(dir, mode+"-ref")
			t0 := time.Now()
			seqdiffOK(t, tmp, args(ref)...)
			perStep := time.Since(t0) / time.Duration(steps)
			out := filepath.Join(dir, mode+"-killed")
			var ks killStats
			for try := 0; ks.kills < kills; try++ {
				if try > 4*kills {
					t.Fatalf("only %d kills landed in %d tries", ks.kills, try)
				}
				a := args(out)
				if ok, err := train.HasCheckpoint(out); err != nil {
					t.Fatal(err)
				} else if ok {
					a = []string{"pretrain", "--out", out, "--resume"}
				}
				p := start(t, tmp, a...)
				killed := false
				switch try % 3 {
				case 0: // at a random time, up to ~4 steps in
					select {
					case <-p.done:
					case <-time.After(time.Duration(rng.Int64N(int64(4*perStep) + 1))):
						p.cmd.Process.Kill()
						killed = true
					}
				case 1: // while the nth checkpoint's files are written
					killed = killAtWrite(p, out, "tmp", 1+rng.IntN(3))
				case 2: // right after the nth new checkpoint was swapped in
					killed = killAtWrite(p, out, "old", 1+rng.IntN(3))
				}
				signaled := p.wait()
				if !killed || !signaled {
					if p.err != nil {
						t.Fatalf("try %d: seqdiff %s failed on its own: %v\n%s", try, strings.Join(a, " "), p.err, p.stderr.String())
					}
					t.Fatalf("try %d: the run finished before the kill (raise --max-steps)", try)
				}
				ks.classify(out)
			}
			a := []string{"pretrain", "--out", out, "--resume"}
			if ok, _ := train.HasCheckpoint(out); !ok {
				a = args(out)
			}
			seqdiffOK(t, tmp, a...)
			sameRun(t, ref, out)
			t.Logf("%s: %s; %d steps on %s threads, bit-identical to the uninterrupted run", mode, ks, steps, threads)
			if ks.inWrite+ks.afterSwap == 0 {
				t.Errorf("%s: no kill landed inside a checkpoint write", mode)
			}
		})
	}
}

// killStudy is a study a little longer than microStudy: training stages
// with several checkpoints to be killed between, two seeds downstream.
var killStudy = strings.NewReplacer("threads: 2", "threads: 1", "max_steps: 6", "max_steps: 30", "ckpt_every: 3", "ckpt_every: 2",
	"max_steps: 4", "max_steps: 20", "seeds: [1]", "seeds: [1, 2]", "epochs: 1", "epochs: 2").Replace(microStudy)

// reportVolatile are the parts of report.md that may differ between two
// runs of one study: the date, the directory, training times and the
// sampling-speed timings. Everything else must be equal.
var reportVolatile = []*regexp.Regexp{
	regexp.MustCompile(`(?m)^Written by .* on .*$`),
	regexp.MustCompile(`(?m)^# seqdiff study: .*$`),
}

// normalizeReport blanks the volatile parts of report.md (out is the
// study directory).
func normalizeReport(rep, out string) string {
	rep = strings.ReplaceAll(rep, out, "OUT")
	for _, re := range reportVolatile {
		rep = re.ReplaceAllString(rep, "<volatile>")
	}
	var b strings.Builder
	section := ""
	for _, line := range strings.Split(rep, "\n") {
		if strings.HasPrefix(line, "## ") {
			section = line
		}
		cells := strings.Split(line, "|")
		switch {
		case section == "## Models" && len(cells) == 9 && !strings.HasPrefix(line, "|---") && !strings.Contains(line, "training time"):
			cells[7] = " <time> " // training time
		case section == "## Sampling: speed and quality" && len(cells) == 11 && !strings.HasPrefix(line, "|---") && !strings.Contains(line, "tokens/s"):
			cells[5], cells[6] = " <s> ", " <tok/s> " // seconds, tokens/s
		}
		b.WriteString(strings.Join(cells, "|") + "\n")
	}
	return b.String()
}

// TestKillResumeStudy: `seqdiff experiment` SIGKILLed between stages (on a
// stage's first progress line) and inside them (a random time after it) and run again each
// time ends with the report of the uninterrupted study, timings aside.
func TestKillResumeStudy(t *testing.T) {
	kills := envInt("SEQDIFF_STUDY_KILLS", envInt("SEQDIFF_KILLS", 3))
	if kills == 0 {
		t.Skip("SEQDIFF_KILLS=0")
	}
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp")
	os.Mkdir(tmp, 0o755)
	cfg := filepath.Join(dir, "study.yaml")
	if err := os.WriteFile(cfg, []byte(killStudy), 0o644); err != nil {
		t.Fatal(err)
	}
	ref := filepath.Join(dir, "ref")
	seqdiffOK(t, tmp, "experiment", "--config", cfg, "--out", ref)
	rng := killRNG(t)
	out := filepath.Join(dir, "killed")
	between, inside, runs := 0, 0, 0
	var stages []string
	for i := 0; i < kills; i++ {
		// Kill i lands in stage k (1..9 of 10, ascending over the kills):
		// on its first progress line, or a random time after it.
		k := min(1+i*9/kills+rng.IntN(max(9/kills, 1)), 9)
		runs++
		p := start(t, tmp, "experiment", "--config", cfg, "--out", out)
		killed, onLine := false, rng.IntN(2) == 0
		for !p.exited() && !killed {
			if stageReached(p.stderr.String()) >= k {
				if !onLine {
					time.Sleep(time.Duration(rng.Int64N(int64(300 * time.Millisecond))))
				}
				killed = p.cmd.Process.Kill() == nil
			}
			time.Sleep(200 * time.Microsecond)
		}
		signaled := p.wait()
		if !killed || !signaled {
			if p.err != nil {
				t.Fatalf("run %d failed on its own: %v\n%s", runs, p.err, p.stderr.String())
			}
			t.Logf("run %d finished before its kill in stage %d", runs, k)
			continue
		}
		if onLine {
			between++
		} else {
			inside++
		}
		stages = append(stages, lastStage(p.stderr.String()))
	}
	seqdiffOK(t, tmp, "experiment", "--config", cfg, "--out", out)
	a, _ := os.ReadFile(filepath.Join(ref, "report.md"))
	b, _ := os.ReadFile(filepath.Join(out, "report.md"))
	na, nb := normalizeReport(string(a), ref), normalizeReport(string(b), out)
	if na != nb || len(na) < 1000 {
		t.Fatalf("report.md of the killed study differs from the uninterrupted one:\n--- uninterrupted\n%s\n--- killed and resumed\n%s", na, nb)
	}
	for _, m := range []string{"mlm", "mdlm", "ar"} {
		sameRun(t, filepath.Join(ref, "models", m), filepath.Join(out, "models", m))
	}
	if entries, _ := filepath.Glob(filepath.Join(out, "*", ".*")); len(entries) != 0 {
		t.Errorf("partial outputs left: %v", entries)
	}
	left, _ := os.ReadDir(tmp)
	t.Logf("study: %d kills survived (%d between stages on a progress line, %d at a random time), in the stages %v; %d runs; %d files left in TMPDIR; report.md equal to the uninterrupted one but for date, directory, training and sampling times",
		between+inside, between, inside, stages, runs, len(left))
}

var stageLine = regexp.MustCompile(`(?m)^\[ *(\d+)/`)

// stageReached is the highest stage number of the progress lines in stderr.
func stageReached(stderr string) int {
	n := 0
	for _, m := range stageLine.FindAllStringSubmatch(stderr, -1) {
		k, _ := strconv.Atoi(m[1])
		n = max(n, k)
	}
	return n
}

// lastStage is the stage of the last progress line ("[ 3/10  0s] pretrain ...").
func lastStage(stderr string) string {
	stage := "start"
	for _, l := range strings.Split(stderr, "\n") {
		if i := strings.Index(l, "] "); strings.HasPrefix(l, "[") && i > 0 {
			if f := strings.Fields(l[i+2:]); len(f) > 0 {
				stage = f[0]
			}
		}
	}
	return stage
}
