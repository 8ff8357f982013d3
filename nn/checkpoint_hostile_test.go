package nn

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Hostile checkpoints beyond TestCheckpointBadInputs: a config.json whose
// dimensions the model file cannot hold is refused before the parameter
// table is built or allocated, and a tensor dropped with its data is named.
func TestCheckpointHostile(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(t *testing.T, dir string)
		want   []string
	}{
		{"huge d_model", func(t *testing.T, dir string) {
			editConfig(t, dir, `"d_model": 16`, `"d_model": 1073741824`)
		}, []string{ConfigFile, "d_model 1073741824", "describes more parameters than", ModelFile}},
		{"huge n_layers", func(t *testing.T, dir string) {
			editConfig(t, dir, `"n_layers": 2`, `"n_layers": 1000000000000`)
		}, []string{ConfigFile, "n_layers 1000000000000", "describes more parameters than", ModelFile}},
		{"huge vocab", func(t *testing.T, dir string) {
			editConfig(t, dir, `"vocab_size": 12`, `"vocab_size": 4611686018427387904`)
		}, []string{ConfigFile, "vocab_size 4611686018427387904", ModelFile}},
		{"tensor dropped with its data", func(t *testing.T, dir string) {
			// head.bias is the last tensor written: cut its entry and bytes.
			rewriteHeader(t, filepath.Join(dir, ModelFile), func(h map[string]any) { delete(h, "head.bias") },
				func(b []byte) []byte { return b[:len(b)-4*12] })
		}, []string{ModelFile, `missing tensor "head.bias"`}},
		{"newer config", func(t *testing.T, dir string) {
			editConfig(t, dir, `"format_version": 1`, `"format_version": 2, "rope_scaling": "yarn"`)
		}, []string{ConfigFile, "format_version 2 is newer than this seqdiff reads (1); upgrade seqdiff"}},
		{"empty model file", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, ModelFile), nil, 0o644)
		}, []string{ModelFile, "truncated: 0 bytes"}},
		{"not safetensors", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, ModelFile), []byte("PK\x03\x04 a zip file, as torch.save writes"), 0o644)
		}, []string{ModelFile, "implausible"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, _ := saveTiny(t, true)
			c.break_(t, dir)
			_, err := LoadCheckpoint(dir)
			if err == nil {
				t.Fatal("loaded a broken checkpoint")
			}
			t.Log(err)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func editConfig(t *testing.T, dir, from, to string) {
	t.Helper()
	p := filepath.Join(dir, ConfigFile)
	raw, err := os.ReadFile(p)
	if err != nil || !bytes.Contains(raw, []byte(from)) {
		t.Fatalf("%s lacks %s: %v", p, from, err)
	}
	os.WriteFile(p, bytes.Replace(raw, []byte(from), []byte(to), 1), 0o644)
}

// An empty tensor sharing its offset with the next one: the file reads
// every time (it used to fail about one time in ten, by map order).
func TestSafetensorsEmptyTensorOrder(t *testing.T) {
	raw := stFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 8)
	for range 200 {
		if _, err := parseSafetensors("x", raw); err != nil {
			t.Fatal(err)
		}
	}
}
