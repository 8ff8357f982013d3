package main

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/compute/cpu"
	"github.com/seqdiff/seqdiff/internal/testenv"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/vocab"
)

// torchScript finds python/seqdiff_torch.py at the module root and a
// python with torch, or skips (as nn's TestTorchParity: CI installs no
// torch).
func torchScript(t *testing.T) (python, script string) {
	t.Helper()
	dir := testenv.ModuleRoot(t)
	script = filepath.Join(dir, "python", "seqdiff_torch.py")
	if _, err := os.Stat(script); err != nil {
		t.Fatal(err)
	}
	python = testenv.Python(t, "torch")
	return python, script
}

// perturbCheckpoint adds normal(0, 0.1) noise to every parameter of the
// checkpoint at dir (LayerNorm gains, biases and the adaLN-Zero
// modulations leave their trivial initial values, so a mistake in any of
// them shows) and writes an EMA that differs from the weights, so that
// reading the wrong file shows too.
func perturbCheckpoint(t *testing.T, dir string, seed uint64) {
	t.Helper()
	ck, err := nn.LoadCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	ck.EMA = make([]float32, len(ck.Params))
	for i := range ck.Params {
		ck.Params[i] += float32(0.1 * rng.NormFloat64())
		ck.EMA[i] = ck.Params[i] + float32(0.05*rng.NormFloat64())
	}
	if err := ck.Save(dir); err != nil {
		t.Fatal(err)
	}
}

func writeF32(t *testing.T, path string, v []float32) {
	t.Helper()
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTorchScript checks python/seqdiff_torch.py against seqdiff: for
// small perturbed checkpoints of each mode, the script's logits (its
// --check mode and its -o output) must equal those of seqdiff model logits
// (mdlm, ar --raw, time-conditioned mdlm at two times) and of the Go
// forward with a key mask (ar: causal and padding together) to 1e-5 of
// max |logit|.
func TestTorchScript(t *testing.T) {
	python, script := torchScript(t)
	const rows, L, tol = 2, 48, 1e-5
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	toks := make([]int32, rows*L)
	for i := range toks {
		toks[i] = vocab.A + int32(rng.IntN(5))
		if rng.Float64() < 0.2 {
			toks[i] = vocab.Mask
		}
	}
	for i := 2*L - 6; i < 2*L; i++ {
		toks[i] = vocab.Pad
	}
	tokFile, tFile, kmFile := filepath.Join(dir, "tok.i32"), filepath.Join(dir, "t.f32"), filepath.Join(dir, "keys.u8")
	writeI32(t, tokFile, toks)
	times := []float32{0.3, 0.85}
	writeF32(t, tFile, times)
	// Row 0 hides its first key, so that causal query 0 sees no key at
	// all (seqdiff: zero attention output), and a stretch in the middle;
	// row 1 hides its PAD tail.
	keys := make([]int32, rows*L)
	km := make([]byte, rows*L)
	for i := range keys {
		if !(i == 0 || (i >= 20 && i < 26) || toks[i] == vocab.Pad) {
			keys[i], km[i] = 1, 1
		}
	}
	if err := os.WriteFile(kmFile, km, 0o644); err != nil {
		t.Fatal(err)
	}
	shape := []string{"--d-model", "32", "--n-layers", "2", "--n-heads", "4", "--seq-len", "64"}

	for _, c := range []struct {
		name, mode string
		args       []string // extra flags of model init
		raw        bool     // the trained weights on both sides
		time       bool     // --t per row
		keyMask    bool     // Go forward with the key mask (model logits takes none)
	}{
		{name: "mdlm", mode: "mdlm"},
		{name: "ar", mode: "ar", raw: true},
		{name: "mdlm-time", mode: "mdlm", args: []string{"--time-conditioning"}, time: true},
		{name: "ar-keymask", mode: "ar", keyMask: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ck := filepath.Join(dir, c.name)
			if _, _, err := run(t, append(append([]string{"model", "init", "--mode", c.mode, "--seed", "1", "-o", ck}, shape...), c.args...)...); err != nil {
				t.Fatal(err)
			}
			perturbCheckpoint(t, ck, 5)
			goOut, torchOut := filepath.Join(dir, c.name+"-go.f32"), filepath.Join(dir, c.name+"-torch.f32")
			pyArgs := []string{script, ck, "--tokens", tokFile, "--rows", "2", "--check", goOut, "--tol", "1e-5", "-o", torchOut}
			if c.keyMask {
				m, _, _, err := nn.LoadModel(cpu.New(1), ck, true)
				if err != nil {
					t.Fatal(err)
				}
				defer m.Free()
				if err := m.Forward(toks, keys, rows, L, m.Cfg.Causal()); err != nil {
					t.Fatal(err)
				}
				logits, err := m.LogitsHost()
				if err != nil {
					t.Fatal(err)
				}
				writeF32(t, goOut, logits)
				pyArgs = append(pyArgs, "--key-mask", kmFile)
			} else {
				args := []string{"model", "logits", "--ckpt", ck, "--tokens", tokFile, "--rows", "2", "-o", goOut}
				if c.raw {
					args = append(args, "--raw")
					pyArgs = append(pyArgs, "--raw")
				}
				if c.time {
					args = append(args, "--t", tFile)
					pyArgs = append(pyArgs, "--t-file", tFile)
				}
				if _, _, err := run(t, args...); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(python, pyArgs...)
			// One thread: the machine is shared. No __pycache__ in python/.
			cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1", "PYTHONDONTWRITEBYTECODE=1")
			if os.Getenv("OPENBLAS_CORETYPE") == "" {
				cmd.Env = append(cmd.Env, "OPENBLAS_CORETYPE=Haswell")
			}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s %s: %v\n%s", python, strings.Join(pyArgs, " "), err, out)
			}
			if !strings.Contains(string(out), ": ok") {
				t.Errorf("script output lacks the check verdict:\n%s", out)
			}
			ours, theirs := readF32(t, goOut), readF32(t, torchOut)
			scale := 0.0
			for _, v := range ours {
				scale = math.Max(scale, math.Abs(float64(v)))
			}
			rel := maxAbsDiff(ours, theirs) / scale
			t.Logf("%s: max|diff| / max|logit| = %.3g (max|logit| %.3g, %d logits)", c.name, rel, scale, len(ours))
			if c.time {
				// The times must matter, or the check above says nothing about them.
				at0 := filepath.Join(dir, c.name+"-t0.f32")
				if _, _, err := run(t, "model", "logits", "--ckpt", ck, "--tokens", tokFile, "--rows", "2", "-o", at0); err != nil {
					t.Fatal(err)
				}
				if d := maxAbsDiff(ours, readF32(t, at0)) / scale; !(d > 1e3*tol) {
					t.Errorf("%s: logits at t = 0 within %.3g of those at --t: the time conditioning is not exercised", c.name, d)
				}
			}
			if !(rel <= tol) {
				t.Errorf("%s: torch and seqdiff logits differ by %.3g of max|logit| > %g", c.name, rel, tol)
			}
		})
	}
}
