// Package testenv finds what tests need outside the package: the module
// root (go.mod), the shared data beside it, and a python with given
// modules. Each helper skips the test when what it looks for is absent.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ModuleRoot is the folder holding go.mod at or above the working
// directory; the test is skipped when there is none.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Skip("module root (go.mod) not found")
		}
		dir = up
	}
}

// Shared is ../shared/<parts...> beside the module root (the project's
// real data and reference); the test is skipped when it is absent.
func Shared(t testing.TB, parts ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{ModuleRoot(t), "..", "shared"}, parts...)...)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s absent (it comes with ../shared)", filepath.Join(append([]string{"../shared"}, parts...)...))
	}
	return p
}

// Python is /usr/bin/python3 (Debian's, where apt installs python3-torch;
// the python3 first on PATH may be another) when it imports every module
// named; the test is skipped otherwise.
func Python(t testing.TB, modules ...string) string {
	t.Helper()
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import "+strings.Join(modules, ", ")).Run(); err != nil {
		t.Skipf("%s with %s not available (%v); Debian: apt-get install python3-torch python3-numpy", py, strings.Join(modules, ", "), err)
	}
	return py
}
