package strictyaml

import (
	"strings"
	"testing"
)

type cfg struct {
	Mode  string  `yaml:"mode"`
	LR    float64 `yaml:"lr"`
	Inner struct {
		Steps int `yaml:"steps"`
	} `yaml:"inner"`
}

func TestDecodeHostile(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"unknown key", "mode: ar\nmax_step: 7\n", `c.yaml:2: unknown key "max_step"`},
		{"unknown nested key", "inner:\n  stepz: 3\n", `c.yaml:2: unknown key "stepz"`},
		{"two unknown keys", "a: 1\nb: 2\n", `c.yaml:1: unknown key "a"; c.yaml:2: unknown key "b"`},
		{"wrong type", "mode: ar\nlr: fast\n", "c.yaml:2: cannot unmarshal !!str `fast` into float64"},
		{"duplicate key", "lr: 1\nlr: 2\n", `c.yaml:2: mapping key "lr" already defined at line 1`},
		{"syntax", "mode: ar\n  bad: [\n", "c.yaml:2: mapping values are not allowed in this context"},
		{"second document", "mode: ar\n---\nmode: mdlm\n", "c.yaml:2: a second YAML document (---)"},
		{"a list", "- mode: ar\n", "c.yaml:1: cannot unmarshal !!seq into strictyaml.cfg"},
		{"tab indent", "inner:\n\tsteps: 3\n", "c.yaml:2: found character that cannot start any token"},
	} {
		var v cfg
		err := Decode("c.yaml", []byte(c.in), &v)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
			continue
		}
		t.Logf("%s: %v", c.name, err)
	}
	var v cfg
	if err := Decode("c.yaml", []byte("mode: ar\nlr: 0.5\ninner:\n  steps: 3\n"), &v); err != nil || v.Mode != "ar" || v.LR != 0.5 || v.Inner.Steps != 3 {
		t.Fatalf("good file: %+v, %v", v, err)
	}
	if err := Decode("c.yaml", nil, &v); err != nil || v.Mode != "ar" {
		t.Fatalf("empty file: %+v, %v", v, err)
	}
}
