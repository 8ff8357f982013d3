//go:build linux && (amd64 || arm64) && !noopenblas

package cpu

import (
	"strings"
	"testing"

	"github.com/ebitengine/purego"
)

// A library without OpenBLAS's own symbols (here libm, standing in for a
// reference BLAS, which has sgemm_ but no openblas_get_config) is refused.
func TestOpenBLASDetection(t *testing.T) {
	lib, err := purego.Dlopen("libm.so.6", purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		t.Skipf("no libm.so.6 to test the refusal with: %v", err)
	}
	if _, err := bindOpenBLAS(lib); err == nil || !strings.Contains(err.Error(), "not OpenBLAS") {
		t.Fatalf("bindOpenBLAS(libm) = %v, want a 'not OpenBLAS' error", err)
	}
	ob, err := loadOpenBLAS()
	if err != nil {
		t.Skipf("OpenBLAS not installed: %v", err)
	}
	if name := ob.name(); !strings.Contains(name, "OpenBLAS") {
		t.Fatalf("loaded BLAS %q does not report an OpenBLAS config", name)
	}
	t.Logf("loaded %s", ob.name())
}

// SEQDIFF_BLAS=off (and go) keep the backend off OpenBLAS, whatever is
// installed; gonum forces gonum.
func TestBLASEnv(t *testing.T) {
	for env, not := range map[string]string{"off": "OpenBLAS", "go": "OpenBLAS", "gonum": "OpenBLAS"} {
		t.Setenv("SEQDIFF_BLAS", env)
		if name := New(1).BLAS(); strings.Contains(name, not) || env == "gonum" && !strings.Contains(name, "gonum") {
			t.Errorf("SEQDIFF_BLAS=%s: blas %q", env, name)
		}
	}
}
