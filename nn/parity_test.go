package nn

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/seqdiff/seqdiff/compute/cpu"
	"github.com/seqdiff/seqdiff/internal/testenv"
	"github.com/seqdiff/seqdiff/vocab"
)

// torchRef finds shared/reference/torch_ref.py beside the module root and a
// python with torch, or skips.
func torchRef(t *testing.T) (python, ref string) {
	t.Helper()
	dir := testenv.ModuleRoot(t)
	ref = filepath.Join(dir, "..", "shared", "reference", "torch_ref.py")
	if _, err := os.Stat(ref); err != nil {
		t.Skip("parity: ../shared/reference/torch_ref.py absent")
	}
	python = testenv.Python(t, "torch", "numpy")
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
			toks[i] = vocab.Mask
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
			x0[i] = vocab.Pad
		}
		if rng.Float64() < float64(tt[i/L]) {
			masked[i] = 1
		}
	}
	x0Path, tPath, mPath := filepath.Join(dir, "x0.i32"), filepath.Join(dir, "t.f32"), filepath.Join(dir, "m.u8")
	writeLE(t, x0Path, x0)
	writeLE(t, tPath, tt)
	os.WriteFile(mPath, masked, 0o644)

	// Write both checkpoints, then run torch_ref's logits and loss commands
	// for both modes in one python process (importing torch is most of the
	// cost), while we compute our side.
	modes := []string{ModeMDLM, ModeAR}
	script := "import sys, argparse\nsys.path.insert(0, sys.argv[1])\nimport torch_ref as r\n"
	for _, mode := range modes {
		cfg, _ := Preset("dna-small", mode)
		ck := filepath.Join(dir, mode)
		if err := (&Checkpoint{Config: cfg, Params: perturbedParams(cfg, 5)}).Save(ck); err != nil {
			t.Fatal(err)
		}
		script += fmt.Sprintf("r.cmd_logits(argparse.Namespace(ckpt=%q, tokens=%q, rows=%d, mode=%q, out=%q))\n",
			ck, tokPath, rows, mode, filepath.Join(dir, mode+".f32"))
		script += fmt.Sprintf("r.cmd_loss(argparse.Namespace(ckpt=%q, tokens=%q, rows=%d, mode=%q, t=%q, masked=%q))\n",
			ck, x0Path, rows, mode, tPath, mPath)
	}
	cmd := exec.Command(python, "-c", script, filepath.Dir(ref))
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=2")
	if os.Getenv("OPENBLAS_CORETYPE") == "" {
		cmd.Env = append(cmd.Env, "OPENBLAS_CORETYPE=Haswell")
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var torchLoss map[string]float64
	wait := func() {
		if torchLoss != nil {
			return
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("torch_ref: %v\n%s", err, stderr.String())
		}
		torchLoss = map[string]float64{}
		dec := json.NewDecoder(&stdout)
		for dec.More() {
			var r struct {
				Mode string
				Loss *float64
			}
			if err := dec.Decode(&r); err != nil {
				t.Fatalf("torch_ref output: %v", err)
			}
			if r.Loss != nil {
				torchLoss[r.Mode] = *r.Loss
			}
		}
	}
	be := cpu.New(2)
	for _, mode := range modes {
		ck := filepath.Join(dir, mode)
		m, _, _, err := LoadModel(be, ck, false)
		if err != nil {
			t.Fatal(err)
		}
		cfg := m.Cfg
		if err := m.Forward(toks, nil, rows, L, cfg.Causal()); err != nil {
			t.Fatal(err)
		}
		ours, _ := m.LogitsHost()
		wait()
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

		// The training path's own inputs (Objective), not a copy.
		obj := NewObjective(cfg)
		var li LossInputs
		if mode == ModeAR {
			li, err = obj.Inputs(x0, rows, L, nil)
		} else {
			li, err = obj.Masked(x0, rows, L, tt, masked)
		}
		if err != nil {
			t.Fatal(err)
		}
		loss, err := m.Loss(li, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		theirs, ok := torchLoss[mode]
		if !ok {
			t.Fatalf("torch_ref printed no %s loss: %s", mode, stdout.String())
		}
		r := struct{ Loss float64 }{theirs}
		rel := math.Abs(loss-r.Loss) / math.Abs(r.Loss)
		t.Logf("%s loss: seqdiff %.7f torch %.7f rel %.3g", mode, loss, r.Loss, rel)
		if !(rel <= 1e-4) {
			t.Errorf("%s loss: seqdiff %.7f, torch %.7f", mode, loss, r.Loss)
		}
	}
}
