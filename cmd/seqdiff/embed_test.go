package main

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/compute/cpu"
	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/internal/testenv"
	"github.com/seqdiff/seqdiff/nn"
)

// embedCkpt saves a 2-layer checkpoint of mode (d 16, seq_len 16) with an
// EMA (the trained weights perturbed) and returns its directory.
func embedCkpt(t *testing.T, dir, mode string) string {
	t.Helper()
	cfg := nn.DefaultConfig(12, 16, 2, 2, 16, mode)
	ck := &nn.Checkpoint{Config: cfg, Params: nn.InitParams(cfg, 1)}
	rng := rand.New(rand.NewPCG(2, 3))
	ck.EMA = make([]float32, len(ck.Params))
	for i, v := range ck.Params {
		ck.EMA[i] = v + float32(0.05*rng.NormFloat64())
	}
	p := filepath.Join(dir, mode)
	if err := ck.Save(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// readNpy is a tiny .npy reader: format 1.0, '<f4', C order only; it
// checks the header's layout (64-byte alignment, "\n" at its end) and
// returns the shape and the values.
func readNpy(t *testing.T, path string) ([]int, []float32) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) < 10 || string(raw[:6]) != "\x93NUMPY" || raw[6] != 1 || raw[7] != 0 {
		t.Fatalf("%s: not a version 1.0 .npy file: % x", path, raw[:min(10, len(raw))])
	}
	hlen := int(binary.LittleEndian.Uint16(raw[8:10]))
	if 10+hlen > len(raw) || (10+hlen)%64 != 0 || raw[10+hlen-1] != '\n' {
		t.Fatalf("%s: header of %d bytes: not aligned to 64 or not ended by a newline", path, hlen)
	}
	header := string(raw[10 : 10+hlen])
	m := regexp.MustCompile(`^\{'descr': '<f4', 'fortran_order': False, 'shape': \(([0-9, ]*)\), \} *\n$`).FindStringSubmatch(header)
	if m == nil {
		t.Fatalf("%s: header %q", path, header)
	}
	var shape []int
	n := 1
	for _, f := range strings.Split(m[1], ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		d, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("%s: shape %q", path, m[1])
		}
		shape = append(shape, d)
		n *= d
	}
	body := raw[10+hlen:]
	if len(body) != 4*n {
		t.Fatalf("%s: %d data bytes for shape %v", path, len(body), shape)
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:]))
	}
	return shape, data
}

// forwardStates runs seq alone through the checkpoint at ck (nn.LoadModel,
// Forward) and returns the states of layer (T, d): Hidden for the final
// layer, HiddenLayer otherwise.
func forwardStates(t *testing.T, ck string, ema bool, seq []uint8, layer int) []float32 {
	t.Helper()
	m, _, _, err := nn.LoadModel(cpu.New(1), ck, ema)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	toks := make([]int32, len(seq))
	for i, id := range seq {
		toks[i] = int32(id)
	}
	if err := m.Forward(toks, nil, 1, len(toks), m.Cfg.Causal()); err != nil {
		t.Fatal(err)
	}
	h := make([]float32, len(seq)*m.Cfg.DModel)
	if layer == m.Cfg.NLayers {
		m.Backend().Download(h, m.Hidden())
	} else {
		m.Backend().Download(h, m.HiddenLayer(layer))
	}
	return h
}

func meanRows(h []float32, d int) []float32 {
	T := len(h) / d
	out := make([]float32, d)
	for c := range d {
		s := 0.0
		for p := range T {
			s += float64(h[p*d+c])
		}
		out[c] = float32(s / float64(T))
	}
	return out
}

func writeText(t *testing.T, path, s string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestEmbed: the pooled .npy of a FASTA holds, row by row, the mean of the
// final states of each record run alone (EMA weights; --raw the trained
// ones; --layer 1 the residual stream after block 1), and the index names
// the records.
func TestEmbed(t *testing.T) {
	dir := t.TempDir()
	ck := embedCkpt(t, dir, "mdlm")
	fa := writeText(t, filepath.Join(dir, "in.fa"), ">a first\nACGTACGT\n>b\nacgtnnGGCCAA\n>c\nTTTTACGA\n>d\nGATTA\n")
	_, seqs, err := dataprep.ReadDNASamples(fa)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "e.npy")
	for _, c := range []struct {
		args  []string
		ema   bool
		layer int
	}{
		{nil, true, 2},
		{[]string{"--raw"}, false, 2},
		{[]string{"--layer", "1", "--batch", "1"}, true, 1},
		{[]string{"--layer", "-2"}, true, 1},
	} {
		stdout, _, err := run(t, append([]string{"embed", "--ckpt", ck, "--fasta", fa, "-o", out, "--device", "cpu"}, c.args...)...)
		if err != nil {
			t.Fatal(err)
		}
		weights := map[bool]string{true: "ema", false: "trained"}[c.ema]
		if !strings.Contains(stdout, "float32 [4 16], layer "+strconv.Itoa(c.layer)) || !strings.Contains(stdout, weights+" weights") ||
			!strings.Contains(stdout, "mean over positions") || !strings.Contains(stdout, "e.index.tsv") {
			t.Errorf("%v: stdout %q", c.args, stdout)
		}
		shape, data := readNpy(t, out)
		if len(shape) != 2 || shape[0] != 4 || shape[1] != 16 {
			t.Fatalf("%v: shape %v, want (4, 16)", c.args, shape)
		}
		for i, s := range seqs {
			want := meanRows(forwardStates(t, ck, c.ema, s, c.layer), 16)
			if d := maxAbsDiff(data[i*16:(i+1)*16], want); !(d <= 1e-5) {
				t.Errorf("%v: row %d differs from its own forward's mean by %g", c.args, i, d)
			}
		}
	}
	idx, err := os.ReadFile(filepath.Join(dir, "e.index.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "row\tname\tlength\n0\ta\t8\n1\tb\t12\n2\tc\t8\n3\td\t5\n"; string(idx) != want {
		t.Errorf("index %q, want %q", idx, want)
	}
	var names []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "e.index.tsv e.npy in.fa mdlm" {
		t.Errorf("directory holds %v", names)
	}
}

// TestEmbedPerBase: --per-base writes (n, L, d), whose mean over positions
// is the pooled row; max, centre and last are the per-position rows'; the
// .safetensors output holds the same array with its metadata; a task table
// gets its labels in the index.
func TestEmbedPerBase(t *testing.T) {
	dir := t.TempDir()
	ck := embedCkpt(t, dir, "mlm")
	tsv := writeText(t, filepath.Join(dir, "t.tsv"), "seq\tlabel\nACGTACGTAA\tpos\nGGGGCCCCAT\tneg\nacgtnacgtn\t\"a\tb\"\n")
	base := []string{"embed", "--ckpt", ck, "--task", tsv, "--device", "cpu"}
	per := filepath.Join(dir, "per.npy")
	if _, _, err := run(t, append(base, "--per-base", "-o", per)...); err != nil {
		t.Fatal(err)
	}
	shape, all := readNpy(t, per)
	if len(shape) != 3 || shape[0] != 3 || shape[1] != 10 || shape[2] != 16 {
		t.Fatalf("per-base shape %v, want (3, 10, 16)", shape)
	}
	const L, d = 10, 16
	for _, pool := range nn.Pools {
		p := filepath.Join(dir, pool+".npy")
		if _, _, err := run(t, append(base, "--pool", pool, "-o", p)...); err != nil {
			t.Fatal(err)
		}
		_, got := readNpy(t, p)
		for i := range 3 {
			rows := all[i*L*d : (i+1)*L*d]
			var want []float32
			switch pool {
			case nn.PoolMean:
				want = meanRows(rows, d)
			case nn.PoolMax:
				want = make([]float32, d)
				for c := range d {
					want[c] = float32(math.Inf(-1))
					for p := range L {
						want[c] = max(want[c], rows[p*d+c])
					}
				}
			case nn.PoolCentre:
				want = meanRows(rows[4*d:6*d], d)
			case nn.PoolLast:
				want = rows[(L-1)*d:]
			}
			if dd := maxAbsDiff(got[i*d:(i+1)*d], want); !(dd <= 1e-6) {
				t.Errorf("--pool %s row %d: %g from the per-base rows", pool, i, dd)
			}
		}
	}
	idx, _ := os.ReadFile(filepath.Join(dir, "per.index.tsv"))
	if want := "row\tname\tlength\tlabel\n0\tt.tsv:2\t10\tpos\n1\tt.tsv:3\t10\tneg\n2\tt.tsv:4\t10\ta b\n"; string(idx) != want {
		t.Errorf("index %q, want %q", idx, want)
	}

	st := filepath.Join(dir, "per.safetensors")
	if _, _, err := run(t, append(base, "--per-base", "-o", st)...); err != nil {
		t.Fatal(err)
	}
	f, err := nn.ReadSafetensors(st)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.F32("embeddings", []int{3, L, d})
	if err != nil {
		t.Fatal(err)
	}
	if maxAbsDiff(got, all) != 0 || strings.Join(f.Names(), ",") != "embeddings" {
		t.Errorf("safetensors: tensors %v differ from the .npy", f.Names())
	}
	for k, v := range map[string]string{"ckpt": ck, "layer": "2", "pool": "none", "per_base": "true", "weights": "ema", "mode": "mlm",
		"attention": "bidirectional", "index": "per.index.tsv"} {
		if f.Meta[k] != v {
			t.Errorf("__metadata__ %s = %q, want %q", k, f.Meta[k], v)
		}
	}
}

// TestEmbedARvsMDLM: from the same weights, an ar checkpoint's states at
// the positions two sequences share before they differ are equal (causal),
// an mdlm checkpoint's are not; both pool.
func TestEmbedARvsMDLM(t *testing.T) {
	dir := t.TempDir()
	fa := writeText(t, filepath.Join(dir, "in.fa"), ">x\nACGTTGCA\n>y\nACGTAAAA\n")
	const d = 16
	for _, mode := range []string{"ar", "mdlm"} {
		ck := embedCkpt(t, dir, mode)
		out := filepath.Join(dir, mode+".npy")
		stdout, _, err := run(t, "embed", "--ckpt", ck, "--fasta", fa, "--per-base", "-o", out, "--device", "cpu")
		if err != nil {
			t.Fatal(err)
		}
		attn := map[string]string{"ar": "causal", "mdlm": "bidirectional"}[mode]
		if !strings.Contains(stdout, attn+" attention ("+mode+")") {
			t.Errorf("%s: stdout %q", mode, stdout)
		}
		_, h := readNpy(t, out)
		x, y := h[:8*d], h[8*d:]
		prefix := maxAbsDiff(x[:4*d], y[:4*d])
		if mode == "ar" && !(prefix <= 1e-5) {
			t.Errorf("ar: the shared first 4 positions differ by %g", prefix)
		}
		if mode == "mdlm" && !(prefix > 1e-3) {
			t.Errorf("mdlm: the shared first 4 positions differ by %g only: attention is not bidirectional", prefix)
		}
		if maxAbsDiff(x[4*d:], y[4*d:]) < 1e-3 {
			t.Errorf("%s: different bases, the same states", mode)
		}
	}
}

// TestEmbedErrors: usage mistakes exit 2, bad input 1; neither leaves an
// output, an index or a temporary file.
func TestEmbedErrors(t *testing.T) {
	dir := t.TempDir()
	ck := embedCkpt(t, dir, "mdlm")
	in := t.TempDir()
	fa := writeText(t, filepath.Join(in, "ok.fa"), ">a\nACGT\n>b\nACGTA\n")
	long := writeText(t, filepath.Join(in, "long.fa"), ">a\nACGT\n>big\n"+strings.Repeat("A", 17)+"\n")
	bad := writeText(t, filepath.Join(in, "bad.fa"), ">a\nAC-GT\n")
	tsv := writeText(t, filepath.Join(in, "t.tsv"), "seq\tlabel\nACGT\t1\nACGTACGT\t0\n")
	clash := writeText(t, filepath.Join(in, "x.index.tsv"), "seq\tlabel\nACGT\t1\n")
	text := filepath.Join(dir, "text")
	tcfg := nn.DefaultConfig(30, 16, 1, 2, 16, "ar")
	tcfg.Tokenizer = "gpt2"
	if err := (&nn.Checkpoint{Config: tcfg, Params: nn.InitParams(tcfg, 1)}).Save(text); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(in, "e.npy")
	for _, c := range []struct {
		name string
		args []string
		msg  []string
		code int
	}{
		{"no input", []string{"-o", out}, []string{"pass one input: --fasta FILE or --task TABLE"}, 2},
		{"both inputs", []string{"--fasta", fa, "--task", tsv, "-o", out}, []string{"pass one input"}, 2},
		{"unknown extension", []string{"--fasta", fa, "-o", filepath.Join(in, "e.csv")}, []string{`unknown extension ".csv"`, ".npy (NumPy) or .safetensors"}, 2},
		{"no output", []string{"--fasta", fa}, []string{`"output" not set`}, 2},
		{"per-base and pool", []string{"--fasta", fa, "--per-base", "--pool", "max", "-o", out}, []string{"--pool is for one vector"}, 2},
		{"unknown pool", []string{"--fasta", fa, "--pool", "sum", "-o", out}, []string{`"sum": want mean, max, centre, last`}, 2},
		{"layer out of range", []string{"--fasta", fa, "--layer", "3", "-o", out}, []string{"--layer 3: the model has layers 0 (token embedding) to 2"}, 2},
		{"batch 0", []string{"--fasta", fa, "--batch", "0", "-o", out}, []string{"--batch 0: must be >= 1"}, 2},
		{"index over the input", []string{"--task", clash, "-o", filepath.Join(in, "x.npy")}, []string{"would write its index over the input"}, 2},
		{"text checkpoint", []string{"--ckpt", text, "--fasta", fa, "-o", out}, []string{"embed reads DNA", "gpt2"}, 2},
		{"too long", []string{"--fasta", long, "-o", out}, []string{"long.fa: record big (sequence 2): 17 bases, longer than the checkpoint's context (seq_len 16); cut it into windows of at most 16"}, 1},
		{"too long, table", []string{"--task", writeText(t, filepath.Join(in, "long.tsv"), "seq\tlabel\nACGT\t1\n"+strings.Repeat("C", 20)+"\t0\n"), "-o", out}, []string{"long.tsv:3: 20 bases"}, 1},
		{"per-base, unequal lengths", []string{"--fasta", fa, "--per-base", "-o", out}, []string{"--per-base writes one (n, L, d) array and needs sequences of one length", "in " + fa + ", record a (sequence 1) has 4 bases and record b (sequence 2) 5;", "--pool mean|max|centre|last"}, 1},
		{"per-base, unequal lengths, safetensors", []string{"--task", tsv, "--per-base", "-o", filepath.Join(in, "e.safetensors")}, []string{"t.tsv, line 2 has 4 bases and line 3 8"}, 1},
		{"bad FASTA", []string{"--fasta", bad, "-o", out}, []string{"bad.fa:2", "record a"}, 1},
		{"missing FASTA", []string{"--fasta", filepath.Join(in, "none.fa"), "-o", out}, []string{"none.fa"}, 1},
		{"bad table", []string{"--task", fa, "-o", out}, []string{"ok.fa:1", `lacks column "seq" or "label"`}, 1},
		{"missing checkpoint", []string{"--ckpt", filepath.Join(dir, "none"), "--fasta", fa, "-o", out}, []string{"config.json"}, 1},
		{"unwritable output", []string{"--fasta", fa, "-o", filepath.Join(fa, "e.npy")}, []string{"e.npy"}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"embed", "--device", "cpu"}, c.args...)
			if !strings.Contains(strings.Join(c.args, " "), "--ckpt") {
				args = append(args, "--ckpt", ck)
			}
			_, _, err := run(t, args...)
			if err == nil {
				t.Fatal("no error")
			}
			for _, m := range c.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("%v, want mention of %q", err, m)
				}
			}
			if code := exitCode(context.Background(), err); code != c.code {
				t.Errorf("exit status %d, want %d (%v)", code, c.code, err)
			}
			t.Logf("seqdiff: %v", err)
			ents, _ := os.ReadDir(in)
			for _, e := range ents {
				if n := e.Name(); !strings.HasSuffix(n, ".fa") && !strings.HasSuffix(n, ".tsv") || strings.HasPrefix(n, ".") {
					t.Errorf("left behind: %s", n)
				}
			}
			if _, err := os.Stat(filepath.Join(in, "e.index.tsv")); !errors.Is(err, os.ErrNotExist) {
				t.Error("left an index behind")
			}
		})
	}
}

// TestEmbedNumpy loads the output with numpy.load when the system Python
// has numpy.
func TestEmbedNumpy(t *testing.T) {
	py := testenv.Python(t, "numpy")
	dir := t.TempDir()
	ck := embedCkpt(t, dir, "ar")
	fa := writeText(t, filepath.Join(dir, "in.fa"), ">a\nACGTACGTAC\n>b\nGGGGCCCCAA\n>c\nTTTTTTTTTT\n")
	for _, c := range []struct {
		args  []string
		shape string
	}{{nil, "(3, 16)"}, {[]string{"--per-base"}, "(3, 10, 16)"}} {
		out := filepath.Join(dir, "e.npy")
		if _, _, err := run(t, append([]string{"embed", "--ckpt", ck, "--fasta", fa, "-o", out, "--device", "cpu"}, c.args...)...); err != nil {
			t.Fatal(err)
		}
		_, data := readNpy(t, out)
		got, err := exec.Command(py, "-c", `import sys, numpy as np
a = np.load(sys.argv[1])
assert a.dtype == np.dtype('<f4') and a.flags.c_contiguous
print(a.shape, repr(float(a.reshape(-1)[-1])))`, out).CombinedOutput()
		if err != nil {
			t.Fatalf("numpy.load: %v\n%s", err, got)
		}
		want := c.shape + " " + strconv.FormatFloat(float64(data[len(data)-1]), 'g', -1, 64)
		if strings.TrimSpace(string(got)) != want {
			t.Errorf("numpy.load: %q, want %q", got, want)
		}
	}
}
