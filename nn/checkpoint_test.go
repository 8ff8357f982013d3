package nn

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func tinyConfig(mode string) Config {
	return DefaultConfig(12, 16, 2, 2, 32, mode)
}

func saveTiny(t *testing.T, withOpt bool) (string, *Checkpoint) {
	t.Helper()
	cfg := tinyConfig(ModeMDLM)
	cfg.Training = map[string]any{"steps": 7.0}
	ck := &Checkpoint{Config: cfg, Params: InitParams(cfg, 3)}
	if withOpt {
		n := NumParams(cfg)
		ck.M, ck.V, ck.EMA = make([]float32, n), make([]float32, n), make([]float32, n)
		for i := range ck.M {
			ck.M[i], ck.V[i], ck.EMA[i] = float32(i)*1e-3, float32(i)*1e-6, ck.Params[i]+1
		}
		ck.OptStep = 42
		ck.State = map[string]any{"step": 42.0, "rng": "abc", "cursor": map[string]any{"shard": 3.0}}
	}
	dir := filepath.Join(t.TempDir(), "ck")
	if err := ck.Save(dir); err != nil {
		t.Fatal(err)
	}
	return dir, ck
}

func TestCheckpointRoundTrip(t *testing.T) {
	dir, ck := saveTiny(t, true)
	got, err := LoadCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	for name, pair := range map[string][2][]float32{"params": {ck.Params, got.Params}, "m": {ck.M, got.M}, "v": {ck.V, got.V}, "ema": {ck.EMA, got.EMA}} {
		a, b := pair[0], pair[1]
		if len(a) != len(b) {
			t.Fatalf("%s: %d values back, wrote %d", name, len(b), len(a))
		}
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s[%d]: %v back, wrote %v", name, i, b[i], a[i])
			}
		}
	}
	if got.OptStep != 42 || got.State["rng"] != "abc" || got.Config.Training["steps"] != 7.0 {
		t.Fatalf("state not round-tripped: step %d state %v training %v", got.OptStep, got.State, got.Config.Training)
	}
	if got.Config.DModel != 16 || got.Config.Mode != ModeMDLM || got.Config.FormatVersion != FormatVersion {
		t.Fatalf("config %+v", got.Config)
	}
	// Saving again over the same directory replaces it, leaving no temp dirs.
	ck.Params[0] = 123
	ck.EMA = nil
	if err := ck.Save(dir); err != nil {
		t.Fatal(err)
	}
	got, err = LoadCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Params[0] != 123 || got.EMA != nil {
		t.Fatalf("replace: params[0]=%v ema=%v", got.Params[0], got.EMA != nil)
	}
	ents, _ := os.ReadDir(filepath.Dir(dir))
	if len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("leftovers beside the checkpoint: %v", names)
	}
}

func TestCheckpointTensorNames(t *testing.T) {
	dir, _ := saveTiny(t, false)
	st, err := ReadSafetensors(filepath.Join(dir, ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"embed.weight", "final_ln.weight", "final_ln.bias", "head.weight", "head.bias",
		"blocks.1.ln1.weight", "blocks.1.ln1.bias", "blocks.1.attn.qkv.weight", "blocks.1.attn.out.weight",
		"blocks.1.ln2.weight", "blocks.1.ln2.bias", "blocks.1.mlp.fc1.weight", "blocks.1.mlp.fc1.bias",
		"blocks.1.mlp.fc2.weight", "blocks.1.mlp.fc2.bias"}
	for _, n := range want {
		if _, ok := st.entries[n]; !ok {
			t.Errorf("missing %s", n)
		}
	}
	if len(st.entries) != 5+10*2 {
		t.Errorf("%d tensors, want 25", len(st.entries))
	}
	if e := st.entries["blocks.0.mlp.fc1.weight"]; !sameShape(e.Shape, []int{64, 16}) {
		t.Errorf("fc1 shape %v, want [64 16] (out x in)", e.Shape)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, ModelFile))
	if hl := binary.LittleEndian.Uint64(raw); (8+hl)%8 != 0 {
		t.Errorf("data section not 8-byte aligned: header %d", hl)
	}
}

// rewriteHeader replaces the JSON header of a safetensors file.
func rewriteHeader(t *testing.T, path string, edit func(h map[string]any), data func([]byte) []byte) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(raw)
	var h map[string]any
	if err := json.Unmarshal(raw[8:8+n], &h); err != nil {
		t.Fatal(err)
	}
	body := raw[8+n:]
	if edit != nil {
		edit(h)
	}
	if data != nil {
		body = data(body)
	}
	hj, _ := json.Marshal(h)
	var out bytes.Buffer
	binary.Write(&out, binary.LittleEndian, uint64(len(hj)))
	out.Write(hj)
	out.Write(body)
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCheckpointBadInputs(t *testing.T) {
	entry := func(h map[string]any, name string) map[string]any { return h[name].(map[string]any) }
	cases := []struct {
		name   string
		break_ func(t *testing.T, dir string)
		want   []string
	}{
		{"missing tensor", func(t *testing.T, dir string) {
			rewriteHeader(t, filepath.Join(dir, ModelFile), func(h map[string]any) {
				// drop head.bias and shift nothing: data then has trailing bytes,
				// so rename instead to keep the file consistent.
				h["head.bias_renamed"] = h["head.bias"]
				delete(h, "head.bias")
			}, nil)
		}, []string{ModelFile, `missing tensor "head.bias"`}},
		{"wrong shape", func(t *testing.T, dir string) {
			rewriteHeader(t, filepath.Join(dir, ModelFile), func(h map[string]any) {
				entry(h, "blocks.0.attn.out.weight")["shape"] = []int{8, 32}
			}, nil)
		}, []string{ModelFile, `"blocks.0.attn.out.weight"`, "shape [8 32], want [16 16]"}},
		{"wrong dtype", func(t *testing.T, dir string) {
			rewriteHeader(t, filepath.Join(dir, ModelFile), func(h map[string]any) {
				e := entry(h, "final_ln.bias")
				e["dtype"] = "I32"
			}, nil)
		}, []string{ModelFile, `"final_ln.bias"`, "dtype I32, want F32"}},
		{"truncated file", func(t *testing.T, dir string) {
			p := filepath.Join(dir, ModelFile)
			raw, _ := os.ReadFile(p)
			os.WriteFile(p, raw[:len(raw)-100], 0o644)
		}, []string{ModelFile, "truncated"}},
		{"truncated header", func(t *testing.T, dir string) {
			p := filepath.Join(dir, ModelFile)
			raw, _ := os.ReadFile(p)
			os.WriteFile(p, raw[:50], 0o644)
		}, []string{ModelFile, "truncated"}},
		{"lying offsets", func(t *testing.T, dir string) {
			rewriteHeader(t, filepath.Join(dir, ModelFile), func(h map[string]any) {
				e := entry(h, "embed.weight")
				off := e["data_offsets"].([]any)
				e["data_offsets"] = []any{off[0], off[1].(float64) + 4}
			}, nil)
		}, []string{ModelFile, `"embed.weight"`, "data_offsets"}},
		{"overlapping offsets", func(t *testing.T, dir string) {
			rewriteHeader(t, filepath.Join(dir, ModelFile), func(h map[string]any) {
				a := entry(h, "final_ln.weight")["data_offsets"]
				entry(h, "final_ln.bias")["data_offsets"] = a
			}, nil)
		}, []string{ModelFile, "data_offsets"}},
		{"newer format", func(t *testing.T, dir string) {
			p := filepath.Join(dir, ConfigFile)
			raw, _ := os.ReadFile(p)
			os.WriteFile(p, bytes.Replace(raw, []byte(`"format_version": 1`), []byte(`"format_version": 9`), 1), 0o644)
		}, []string{ConfigFile, "format_version 9 is newer"}},
		{"missing model file", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, ModelFile))
		}, []string{ModelFile, "no such file"}},
		{"bad config", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, ConfigFile), []byte(`{"vocab_size": 12,`), 0o644)
		}, []string{ConfigFile}},
		{"config shape mismatch", func(t *testing.T, dir string) {
			p := filepath.Join(dir, ConfigFile)
			raw, _ := os.ReadFile(p)
			os.WriteFile(p, bytes.Replace(raw, []byte(`"n_layers": 2`), []byte(`"n_layers": 1`), 1), 0o644)
		}, []string{ModelFile, "unexpected tensors", "blocks.1."}},
		{"bad optimizer step", func(t *testing.T, dir string) {
			rewriteHeader(t, filepath.Join(dir, OptimizerFile), func(h map[string]any) {
				h["__metadata__"] = map[string]any{"step": "x"}
			}, nil)
		}, []string{OptimizerFile, "step"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, _ := saveTiny(t, true)
			c.break_(t, dir)
			_, err := LoadCheckpoint(dir)
			if err == nil {
				t.Fatal("loaded a broken checkpoint")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestPresetsAndConfigFiles(t *testing.T) {
	s, err := Preset("dna-small", ModeMDLM)
	if err != nil || s.VocabSize != 12 || s.DModel != 128 || s.NLayers != 4 || s.NHeads != 4 || s.SeqLen != 1024 {
		t.Fatalf("dna-small %+v %v", s, err)
	}
	b, err := Preset("dna-base", ModeAR)
	if err != nil || b.DModel != 256 || b.NLayers != 8 || b.NHeads != 8 || b.SeqLen != 1024 || !b.Causal() {
		t.Fatalf("dna-base %+v %v", b, err)
	}
	if _, err := Preset("dna-huge", ModeAR); err == nil || !strings.Contains(err.Error(), "dna-small") {
		t.Fatalf("unknown preset: %v", err)
	}
	if NumParams(s) != 12*128+4*(12*128*128+9*128)+2*128+12*128+12 {
		t.Errorf("dna-small has %d params", NumParams(s))
	}
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(text), 0o644)
		return p
	}
	c, err := ReadConfigFile(write("m.yaml", "d_model: 64\nn_layers: 2\nn_heads: 4\nseq_len: 256\n"), ModeAR)
	if err != nil || c.DModel != 64 || c.NLayers != 2 || c.Mode != ModeAR || c.VocabSize != 12 || c.MaskID != 3 {
		t.Fatalf("yaml config %+v %v", c, err)
	}
	c, err = ReadConfigFile(write("m.json", `{"d_model": 32, "n_layers": 1, "n_heads": 2, "seq_len": 64, "mode": "mlm"}`), ModeAR)
	if err != nil || c.DModel != 32 || c.Mode != ModeMLM {
		t.Fatalf("json config %+v %v", c, err)
	}
	for name, text := range map[string]string{
		"typo.yaml":  "d_model: 64\nn_layer: 2\nn_heads: 4\nseq_len: 256\n",
		"typo.json":  `{"d_model": 64, "n_layers": 2, "n_head": 4, "seq_len": 256}`,
		"heads.yaml": "d_model: 64\nn_layers: 2\nn_heads: 5\nseq_len: 256\n",
	} {
		if _, err := ReadConfigFile(write(name, text), ModeAR); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v", name, err)
		}
	}
}

func TestInitParamsDeterministic(t *testing.T) {
	cfg := tinyConfig(ModeAR)
	a, b, c := InitParams(cfg, 5), InitParams(cfg, 5), InitParams(cfg, 6)
	same := true
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("seed 5 differs at %d", i)
		}
		same = same && a[i] == c[i]
	}
	if same {
		t.Fatal("seeds 5 and 6 give the same weights")
	}
	for _, tn := range ParamTable(cfg) {
		v := a[tn.Offset : tn.Offset+tn.Size]
		var sum, sq float64
		for _, x := range v {
			sum += float64(x)
			sq += float64(x) * float64(x)
		}
		mean := sum / float64(len(v))
		switch {
		case strings.HasSuffix(tn.Name, "ln1.weight") || tn.Name == "final_ln.weight":
			if mean != 1 || sq != float64(len(v)) {
				t.Errorf("%s not all ones", tn.Name)
			}
		case len(tn.Shape) == 1 && strings.HasSuffix(tn.Name, "bias"):
			if sq != 0 {
				t.Errorf("%s not zero", tn.Name)
			}
		case strings.HasSuffix(tn.Name, "fc1.weight"):
			if std := sq / float64(len(v)); std < 0.015*0.015 || std > 0.025*0.025 {
				t.Errorf("%s variance %g, want about 0.02^2", tn.Name, std)
			}
		case strings.HasSuffix(tn.Name, "fc2.weight"):
			want := 0.02 / 2 // 1/sqrt(2*2 layers)
			if std := sq / float64(len(v)); std < 0.7*want*want || std > 1.3*want*want {
				t.Errorf("%s variance %g, want about %g", tn.Name, std, want*want)
			}
		}
	}
}
