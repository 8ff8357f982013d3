package nn

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/seqdiff/seqdiff/compute/cpu"
)

// torchRef finds shared/reference/torch_ref.py beside the module root and a
// python with torch, or skips.
func torchRef(t *testing.T) (python, ref string) {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("parity: module root not found")
		}
		dir = parent
	}
	ref = filepath.Join(dir, "..", "shared", "reference", "torch_ref.py")
	if _, err := os.Stat(ref); err != nil {
		t.Skip("parity: ../shared/reference/torch_ref.py absent")
	}
	python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import torch, numpy").Run(); err != nil {
		t.Skipf("parity: %s with torch and numpy not available (%v)", python, err)
	}
	return python, ref
}

func writeLE(t *testing.T, path string, v any) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := binary.Write(f, binary.LittleEndian, v); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// TestTorchParity compares logits (bidirectional and causal) and the MDLM
// and AR losses of a perturbed dna-small-shaped checkpoint with
// torch_ref.py on 2 rows of 128 tokens: max |diff| / max |logit| and the
// relative loss difference must be <= 1e-4 (float32 both sides; the
// observed figures are ~1e-6 and ~1e-7).
func TestTorchParity(t *testing.T) {
	python, ref := torchRef(t)
	const rows, L = 2, 128
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	toks := make([]int32, rows*L)
	for i := range toks {
		toks[i] = 7 + int32(rng.IntN(5))
		if rng.Float64() < 0.2 {
			toks[i] = DNAMaskID
		}
	}
	tokPath := filepath.Join(dir, "tok.i32")
	writeLE(t, tokPath, toks)
	x0 := make([]int32, rows*L)
	masked := make([]uint8, rows*L)
	tt := []float32{0.3, 0.9}
	for i := range x0 {
		x0[i] = 7 + int32(rng.IntN(5))
		if i >= 2*L-20 {
			x0[i] = DNAPadID
		}
		if rng.Float64() < float64(tt[i/L]) {
			masked[i] = 1
		}
	}
	x0Path, tPath, mPath := filepath.Join(dir, "x0.i32"), filepath.Join(dir, "t.f32"), filepath.Join(dir, "m.u8")
	writeLE(t, x0Path, x0)
	writeLE(t, tPath, tt)
	os.WriteFile(mPath, masked, 0o644)

	// Write both checkpoints, start the four torch runs at once (most of
	// their time is importing torch), then compute our side meanwhile.
	type job struct {
		cmd  *exec.Cmd
		out  []byte
		err  error
		done chan struct{}
	}
	start := func(args ...string) *job {
		j := &job{cmd: exec.Command(python, args...), done: make(chan struct{})}
		j.cmd.Env = os.Environ()
		if os.Getenv("OPENBLAS_CORETYPE") == "" {
			j.cmd.Env = append(j.cmd.Env, "OPENBLAS_CORETYPE=Haswell")
		}
		j.cmd.Env = append(j.cmd.Env, "OMP_NUM_THREADS=1")
		go func() { j.out, j.err = j.cmd.Output(); close(j.done) }()
		return j
	}
	wait := func(j *job) []byte {
		<-j.done
		if j.err != nil {
			if ee, ok := j.err.(*exec.ExitError); ok {
				t.Fatalf("%v: %v\n%s", j.cmd.Args, j.err, ee.Stderr)
			}
			t.Fatal(j.err)
		}
		return j.out
	}
	modes := []string{ModeMDLM, ModeAR}
	logitJobs, lossJobs := map[string]*job{}, map[string]*job{}
	for _, mode := range modes {
		cfg, _ := Preset("dna-small", mode)
		ck := filepath.Join(dir, mode)
		if err := (&Checkpoint{Config: cfg, Params: perturbedParams(cfg, 5)}).Save(ck); err != nil {
			t.Fatal(err)
		}
		logitJobs[mode] = start(ref, "logits", "--ckpt", ck, "--tokens", tokPath, "--rows", strconv.Itoa(rows), "--mode", mode, "--out", filepath.Join(dir, mode+".f32"))
		args := []string{ref, "loss", "--ckpt", ck, "--tokens", x0Path, "--rows", strconv.Itoa(rows), "--mode", mode}
		if mode == ModeMDLM {
			args = append(args, "--t", tPath, "--masked", mPath)
		}
		lossJobs[mode] = start(args...)
	}
	be := cpu.New(2)
	for _, mode := range modes {
		ck := filepath.Join(dir, mode)
		m, _, err := LoadModel(be, ck)
		if err != nil {
			t.Fatal(err)
		}
		cfg := m.Cfg
		if err := m.Forward(toks, nil, rows, L, cfg.Causal()); err != nil {
			t.Fatal(err)
		}
		ours, _ := m.LogitsHost()
		wait(logitJobs[mode])
		raw, err := os.ReadFile(filepath.Join(dir, mode+".f32"))
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) != 4*len(ours) {
			t.Fatalf("%s: torch wrote %d bytes, want %d", mode, len(raw), 4*len(ours))
		}
		var maxDiff, maxAbs float64
		for i, v := range ours {
			w := float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])))
			maxDiff = math.Max(maxDiff, math.Abs(float64(v)-w))
			maxAbs = math.Max(maxAbs, math.Abs(w))
		}
		t.Logf("%s logits: max|diff| %.3g, max|logit| %.3g, ratio %.3g", mode, maxDiff, maxAbs, maxDiff/maxAbs)
		if !(maxDiff/maxAbs <= 1e-4) {
			t.Errorf("%s logits: max|diff|/max|logit| = %.3g > 1e-4", mode, maxDiff/maxAbs)
		}

		var li LossInputs
		if mode == ModeAR {
			li = ARInputs(x0, rows, L, cfg.PadID)
		} else {
			li = MDLMInputs(x0, rows, L, tt, masked, cfg.MaskID, cfg.PadID)
		}
		loss, err := m.Loss(li, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		var r struct{ Loss float64 }
		if err := json.Unmarshal(wait(lossJobs[mode]), &r); err != nil {
			t.Fatal(err)
		}
		rel := math.Abs(loss-r.Loss) / math.Abs(r.Loss)
		t.Logf("%s loss: seqdiff %.7f torch %.7f rel %.3g", mode, loss, r.Loss, rel)
		if !(rel <= 1e-4) {
			t.Errorf("%s loss: seqdiff %.7f, torch %.7f", mode, loss, r.Loss)
		}
	}
}
