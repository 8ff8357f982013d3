package cuda

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// fakeEnv has the files in have and globs over them.
func fakeEnv(have ...string) searchEnv {
	set := map[string]bool{}
	for _, h := range have {
		set[h] = true
	}
	return searchEnv{
		cudaLibs: "/opt/mine:/opt/mine2",
		ldPath:   "/ld/a::/opt/mine", // empty and repeated entries are dropped
		home:     "/home/u",
		venv:     "/venv",
		exists:   func(p string) bool { return set[p] },
		glob: func(pat string) ([]string, error) {
			var out []string
			seen := map[string]bool{}
			for h := range set {
				d := filepath.Dir(h)
				if ok, _ := filepath.Match(pat, d); ok && !seen[d] {
					seen[d] = true
					out = append(out, d)
				}
			}
			return out, nil
		},
	}
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

func TestSearchDirsOrder(t *testing.T) {
	e := fakeEnv(
		"/usr/local/lib/python3.12/dist-packages/nvidia/cublas/lib/libcublas.so.12",
		"/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublas.so.13",
		"/home/u/.local/lib/python3.11/site-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so.12",
		"/venv/lib/python3.10/site-packages/nvidia/cublas/lib/libcublas.so.12",
		"/usr/local/cuda-12.4/lib64/libnvrtc.so.12",
		"/usr/local/cuda-11.8/lib64/libnvrtc.so.11.2",
	)
	dirs := e.searchDirs()
	order := []string{
		"/opt/mine", "/opt/mine2", "/ld/a",
		"/usr/local/nvidia/lib64", "/usr/local/cuda/lib64", "/usr/lib/x86_64-linux-gnu",
		"/usr/local/cuda-12.4/lib64", "/usr/local/cuda-11.8/lib64",
		"/venv/lib/python3.10/site-packages/nvidia/cublas/lib",
		"/usr/local/lib/python3.12/dist-packages/nvidia/cublas/lib",
		"/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib",
		"/home/u/.local/lib/python3.11/site-packages/nvidia/cuda_nvrtc/lib",
	}
	last := -1
	for _, d := range order {
		i := indexOf(dirs, d)
		if i < 0 {
			t.Fatalf("%s missing from search dirs %q", d, dirs)
		}
		if i <= last {
			t.Errorf("%s at %d, want after %s", d, i, order[max(0, indexOf(order, d)-1)])
		}
		last = i
	}
	if n := strings.Count(strings.Join(dirs, "\n")+"\n", "/opt/mine\n"); n != 1 {
		t.Errorf("/opt/mine listed %d times", n)
	}
	for _, d := range dirs {
		if d == "" {
			t.Error("empty folder in search list")
		}
	}
}

func TestFindLibrary(t *testing.T) {
	e := fakeEnv(
		"/opt/mine2/libnvrtc.so.11.2",
		"/usr/local/cuda/lib64/libnvrtc.so.12",
		"/usr/local/cuda/lib64/libnvrtc.so.13",
	)
	got := e.findLibrary(nvrtcNames)
	want := []string{
		"/opt/mine2/libnvrtc.so.11.2",          // SEQDIFF_CUDA_LIBS first, whatever the version
		"/usr/local/cuda/lib64/libnvrtc.so.13", // then newest first within a folder
		"/usr/local/cuda/lib64/libnvrtc.so.12",
	}
	for i, w := range want {
		if i >= len(got) || got[i] != w {
			t.Fatalf("candidates %q, want %q first", got, want)
		}
	}
	// Bare names last, for the system loader's cache.
	if got[len(got)-1] != nvrtcNames[len(nvrtcNames)-1] || got[len(want)] != nvrtcNames[0] {
		t.Errorf("bare names not appended in order: %q", got[len(want):])
	}
	if n := len(fakeEnv().findLibrary(driverNames)); n != len(driverNames) {
		t.Errorf("nothing installed: %d candidates, want the %d bare names", n, len(driverNames))
	}
}

func TestErrNoLibrary(t *testing.T) {
	err := error(&errNoLibrary{what: "cuBLAS", names: cublasNames, tried: []string{"/x/libcublas.so.12: no symbol"}})
	msg := err.Error()
	for _, s := range []string{"cuBLAS not found", "libcublas.so.12", "SEQDIFF_CUDA_LIBS", "/x/libcublas.so.12: no symbol"} {
		if !strings.Contains(msg, s) {
			t.Errorf("message %q lacks %q", msg, s)
		}
	}
	if !errors.Is(err, errNotFound) {
		t.Error("errNoLibrary does not wrap errNotFound")
	}
}
