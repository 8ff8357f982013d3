package main

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/nn"
)

var tinyShape = []string{"--d-model", "16", "--n-layers", "1", "--n-heads", "2", "--seq-len", "16"}

func writeI32(t *testing.T, path string, ids []int32) {
	t.Helper()
	b := make([]byte, 0, 4*len(ids))
	for _, v := range ids {
		b = binary.LittleEndian.AppendUint32(b, uint32(v))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readF32(t *testing.T, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// maxAbsDiff is max_i |a[i] - b[i]| (+Inf on a length mismatch or a NaN).
func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		x := math.Abs(float64(a[i]) - float64(b[i]))
		if math.IsNaN(x) {
			return math.Inf(1)
		}
		d = math.Max(d, x)
	}
	return d
}

func TestModelInit(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "ck")
	stdout, _, err := run(t, "model", "init", "--preset", "dna-small", "--mode", "ar", "--seed", "3", "--out", out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "794380 params") {
		t.Errorf("output %q", stdout)
	}
	var cfg map[string]any
	raw, err := os.ReadFile(filepath.Join(out, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(raw, &cfg)
	for k, want := range map[string]any{"vocab_size": 12.0, "d_model": 128.0, "n_layers": 4.0, "n_heads": 4.0,
		"seq_len": 1024.0, "mode": "ar", "mask_id": 3.0, "pad_id": 4.0, "tokenizer": "dna-char", "format_version": 1.0} {
		if cfg[k] != want {
			t.Errorf("config.json %s = %v, want %v", k, cfg[k], want)
		}
	}
	if tr, ok := cfg["training"].(map[string]any); !ok || tr["init_seed"] != 3.0 {
		t.Errorf("config.json training = %v", cfg["training"])
	}
	// Same seed, same bytes; another seed, other bytes.
	out2, out3 := filepath.Join(dir, "ck2"), filepath.Join(dir, "ck3")
	run(t, "model", "init", "--preset", "dna-small", "--mode", "ar", "--seed", "3", "--out", out2)
	run(t, "model", "init", "--preset", "dna-small", "--mode", "ar", "--seed", "4", "--out", out3)
	a, _ := os.ReadFile(filepath.Join(out, "model.safetensors"))
	b, _ := os.ReadFile(filepath.Join(out2, "model.safetensors"))
	c, _ := os.ReadFile(filepath.Join(out3, "model.safetensors"))
	if string(a) != string(b) || string(a) == string(c) {
		t.Error("init is not a function of the seed")
	}
	// A config file with a custom shape.
	yml := filepath.Join(dir, "m.yaml")
	os.WriteFile(yml, []byte("d_model: 32\nn_layers: 2\nn_heads: 4\nseq_len: 64\n"), 0o644)
	if _, _, err := run(t, "model", "init", "--config", yml, "--out", filepath.Join(dir, "ck4")); err != nil {
		t.Fatal(err)
	}
	ck, err := nn.LoadCheckpoint(filepath.Join(dir, "ck4"))
	if err != nil || ck.Config.DModel != 32 || ck.Config.Mode != "mdlm" {
		t.Fatalf("config-file checkpoint: %+v %v", ck, err)
	}
}

func TestModelInitErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("d_model: 32\nlayers: 2\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--preset", "dna-xl", "--out", dir + "/a"}, `"dna-xl"`},
		{[]string{"--n-heads", "3", "--out", dir + "/a"}, "not a multiple of n_heads"},
		{[]string{"--mode", "gpt", "--out", dir + "/a"}, `"gpt"`},
		{[]string{"--preset", "dna-small"}, `required flag(s) "out" not set`},
		{[]string{"--config", bad, "--out", dir + "/a"}, "bad.yaml"},
	} {
		_, _, err := run(t, append([]string{"model", "init"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
	if _, err := os.Stat(dir + "/a"); err == nil {
		t.Error("a failed init left a checkpoint behind")
	}
}

func TestModelLogits(t *testing.T) {
	dir := t.TempDir()
	for _, mode := range []string{"mdlm", "ar"} {
		ck := filepath.Join(dir, mode)
		if _, _, err := run(t, append([]string{"model", "init", "--mode", mode, "--seed", "1", "--out", ck}, tinyShape...)...); err != nil {
			t.Fatal(err)
		}
		toks := []int32{7, 8, 9, 10, 11, 3, 7, 8, 9, 9, 9, 10, 7, 7, 3, 8}
		tf := filepath.Join(dir, "tok.i32")
		writeI32(t, tf, toks)
		out := filepath.Join(dir, mode+".f32")
		stdout, _, err := run(t, "model", "logits", "--ckpt", ck, "--tokens", tf, "--rows", "2", "--out", out, "--batch", "1")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(stdout, "(2, 8, 12)") {
			t.Errorf("output %q", stdout)
		}
		a := readF32(t, out)
		if len(a) != 2*8*12 {
			t.Fatalf("%d logits, want %d", len(a), 2*8*12)
		}
		// Change the last token of row 0 and run both rows in one batch:
		// with causal attention (ar) the logits of position 0 stay,
		// bidirectional (mdlm) they move; row 1 stays in both.
		toks[7] = 11
		writeI32(t, tf, toks)
		if _, _, err := run(t, "model", "logits", "--ckpt", ck, "--tokens", tf, "--rows", "2", "--out", out); err != nil {
			t.Fatal(err)
		}
		b := readF32(t, out)
		// Not bit for bit: a was computed a row at a time, b both rows at
		// once, and a BLAS may round a product differently with the number
		// of rows (OpenBLAS's AVX2 kernels do). Within 1e-5 of the logits'
		// scale instead; a row seeing the other row's tokens moves its
		// logits by orders of magnitude more, as the edited position shows.
		scale := 0.0
		for _, v := range a {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
		tol := 1e-5 * scale
		const V = 12
		if d := maxAbsDiff(a[7*V:8*V], b[7*V:8*V]); !(d > 1e3*tol) {
			t.Fatalf("%s: editing position 7 moved its logits by %g only (tolerance %g)", mode, d, tol)
		}
		d0 := maxAbsDiff(a[:V], b[:V])
		if mode == "ar" && !(d0 <= tol) {
			t.Errorf("%s: position 0 logits moved by %g (tolerance %g) after editing position 7", mode, d0, tol)
		}
		if mode == "mdlm" && !(d0 > 1e2*tol) {
			t.Errorf("%s: position 0 logits moved by %g only (tolerance %g) after editing position 7", mode, d0, tol)
		}
		if d := maxAbsDiff(a[8*V:], b[8*V:]); !(d <= tol) {
			t.Errorf("%s: row 1 changed by %g (tolerance %g) after editing row 0", mode, d, tol)
		}
		t.Logf("%s: logit scale %.3g; row 1 moved %.3g, position 0 %.3g", mode, scale, maxAbsDiff(a[8*V:], b[8*V:]), d0)
	}
}

func TestModelLogitsErrors(t *testing.T) {
	dir := t.TempDir()
	ck := filepath.Join(dir, "ck")
	run(t, append([]string{"model", "init", "--out", ck}, tinyShape...)...)
	odd := filepath.Join(dir, "odd.i32")
	os.WriteFile(odd, []byte{1, 2, 3}, 0o644)
	big := filepath.Join(dir, "big.i32")
	writeI32(t, big, []int32{7, 8, 12, 9})
	long := filepath.Join(dir, "long.i32")
	writeI32(t, long, make([]int32, 34))
	out := filepath.Join(dir, "out.f32")
	tc := filepath.Join(dir, "tc")
	run(t, append([]string{"model", "init", "--time-conditioning", "--out", tc}, tinyShape...)...)
	tOne := filepath.Join(dir, "t1.f32")
	os.WriteFile(tOne, binary.LittleEndian.AppendUint32(nil, math.Float32bits(0.5)), 0o644)
	tBad := filepath.Join(dir, "tbad.f32")
	os.WriteFile(tBad, binary.LittleEndian.AppendUint32(nil, math.Float32bits(1.5)), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--ckpt", ck, "--tokens", big, "--rows", "1", "--t", tOne, "--out", out}, "not time-conditioned"},
		{[]string{"--ckpt", tc, "--tokens", big, "--rows", "2", "--t", tOne, "--out", out}, "want 2 float32 (one per row)"},
		{[]string{"--ckpt", tc, "--tokens", big, "--rows", "1", "--t", tBad, "--out", out}, "outside (0, 1]"},
		{[]string{"--ckpt", ck, "--tokens", odd, "--rows", "1", "--out", out}, "not a whole number of int32"},
		{[]string{"--ckpt", ck, "--tokens", big, "--rows", "3", "--out", out}, "do not split into 3 equal rows"},
		{[]string{"--ckpt", ck, "--tokens", big, "--rows", "1", "--out", out}, "token 12 at row 0 position 2"},
		{[]string{"--ckpt", ck, "--tokens", long, "--rows", "2", "--out", out}, "exceeds the model's seq_len 16"},
		{[]string{"--ckpt", dir + "/none", "--tokens", big, "--rows", "1", "--out", out}, "config.json"},
	} {
		_, _, err := run(t, append([]string{"model", "logits"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("failed runs left an output file")
	}
}

func TestModelLoss(t *testing.T) {
	dir := t.TempDir()
	toks := []int32{7, 8, 9, 10, 11, 7, 7, 8, 9, 9, 9, 10, 7, 7, 4, 4}
	tf := filepath.Join(dir, "tok.i32")
	writeI32(t, tf, toks)
	tFile := filepath.Join(dir, "t.f32")
	os.WriteFile(tFile, binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, math.Float32bits(0.5)), math.Float32bits(1)), 0o644)
	mFile := filepath.Join(dir, "m.u8")
	os.WriteFile(mFile, []byte{1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 1, 1, 0, 0, 1, 1}, 0o644)
	for _, mode := range []string{"mdlm", "ar"} {
		ck := filepath.Join(dir, mode)
		run(t, append([]string{"model", "init", "--mode", mode, "--out", ck}, tinyShape...)...)
		stdout, _, err := run(t, "model", "loss", "--ckpt", ck, "--tokens", tf, "--rows", "2", "--t", tFile, "--masked", mFile)
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			Loss   float64
			Tokens float64
		}
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatal(err)
		}
		// A fresh model predicts about uniformly: the AR loss is near
		// log 12 per target; MDLM weights 4 masked tokens in row 0 by 1/0.5
		// and 4 in row 1 by 1, over 14 non-PAD tokens, each about log 11.
		want := math.Log(12)
		if mode == "mdlm" {
			want = (4*2 + 4) * math.Log(11) / 14
		}
		if math.Abs(r.Loss-want) > 0.05*want {
			t.Errorf("%s loss %v, want about %v", mode, r.Loss, want)
		}
	}
	if _, _, err := run(t, "model", "loss", "--ckpt", filepath.Join(dir, "mdlm"), "--tokens", tf, "--rows", "2"); err == nil {
		t.Error("mdlm loss without --t accepted")
	}
}
