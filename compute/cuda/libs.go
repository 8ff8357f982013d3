package cuda

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// A library is looked for under several file names, newest first: the
// driver has one soname; NVRTC and cuBLAS change theirs with the CUDA
// major version (NVRTC 11.x kept libnvrtc.so.11.2).
var (
	driverNames = []string{"libcuda.so.1", "libcuda.so"}
	nvrtcNames  = []string{"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so.11.1", "libnvrtc.so.11.0", "libnvrtc.so"}
	cublasNames = []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"}
	// cuBLAS 11+ needs cublasLt from the same release; it is loaded first
	// from cuBLAS's own folder so the two never mix versions.
	cublasLtNames = []string{"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so.11", "libcublasLt.so"}
)

// searchEnv is what the library search reads from the environment; a
// struct so tests can give their own.
type searchEnv struct {
	cudaLibs string // SEQDIFF_CUDA_LIBS
	ldPath   string // LD_LIBRARY_PATH
	home     string
	venv     string // VIRTUAL_ENV
	glob     func(pattern string) ([]string, error)
	exists   func(path string) bool
}

func osSearchEnv() searchEnv {
	home, _ := os.UserHomeDir()
	return searchEnv{
		cudaLibs: os.Getenv("SEQDIFF_CUDA_LIBS"),
		ldPath:   os.Getenv("LD_LIBRARY_PATH"),
		home:     home,
		venv:     os.Getenv("VIRTUAL_ENV"),
		glob:     filepath.Glob,
		exists: func(p string) bool {
			st, err := os.Stat(p)
			return err == nil && !st.IsDir()
		},
	}
}

// searchDirs lists the folders to look in, in order, without duplicates:
// SEQDIFF_CUDA_LIBS, LD_LIBRARY_PATH, the usual CUDA and driver folders,
// then the nvidia/*/lib folders of pip wheels (nvidia-cublas-cu12 puts
// libcublas.so.12 in site-packages/nvidia/cublas/lib; the CUDA 13 wheels
// use site-packages/nvidia/cu13/lib).
func (e searchEnv) searchDirs() []string {
	var dirs []string
	seen := map[string]bool{}
	add := func(d string) {
		if d == "" || seen[d] {
			return
		}
		seen[d] = true
		dirs = append(dirs, d)
	}
	for _, d := range strings.Split(e.cudaLibs, ":") {
		add(d)
	}
	for _, d := range strings.Split(e.ldPath, ":") {
		add(d)
	}
	for _, d := range []string{
		"/usr/local/nvidia/lib64", "/usr/local/nvidia/lib",
		"/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib",
		"/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib/wsl/lib",
		"/usr/lib/aarch64-linux-gnu", "/usr/local/cuda/targets/sbsa-linux/lib",
	} {
		add(d)
	}
	if e.glob != nil {
		// Versioned toolkits (/usr/local/cuda-12.4), newest name last in
		// lexical order, so reversed.
		if m, _ := e.glob("/usr/local/cuda-*/lib64"); len(m) > 0 {
			sort.Sort(sort.Reverse(sort.StringSlice(m)))
			for _, d := range m {
				add(d)
			}
		}
		var sites []string
		if e.venv != "" {
			sites = append(sites, filepath.Join(e.venv, "lib/python3*/site-packages"))
		}
		sites = append(sites,
			"/usr/lib/python3*/site-packages", "/usr/lib/python3/dist-packages",
			"/usr/local/lib/python3*/dist-packages", "/usr/local/lib/python3*/site-packages",
			"/opt/*/.venv/lib/python3*/site-packages", "/opt/*/lib/python3*/site-packages",
			"/opt/conda/lib/python3*/site-packages")
		if e.home != "" {
			sites = append(sites, filepath.Join(e.home, ".local/lib/python3*/site-packages"))
		}
		for _, s := range sites {
			m, _ := e.glob(filepath.Join(s, "nvidia/*/lib"))
			sort.Strings(m)
			for _, d := range m {
				add(d)
			}
		}
	}
	return dirs
}

// findLibrary returns the paths to try for a library, best first: every
// existing dir/name pair (folders in search order, names newest first
// within a folder), then the bare names for the system loader (ldconfig's
// cache). The caller dlopens them in turn.
func (e searchEnv) findLibrary(names []string) []string {
	var out []string
	for _, d := range e.searchDirs() {
		for _, n := range names {
			p := filepath.Join(d, n)
			if e.exists(p) {
				out = append(out, p)
			}
		}
	}
	return append(out, names...)
}

// errNoLibrary says which library was not found and where it was looked for.
type errNoLibrary struct {
	what  string
	names []string
	tried []string // dlopen errors
}

var errNotFound = errors.New("CUDA library not found")

func (e *errNoLibrary) Error() string {
	msg := fmt.Sprintf("%s not found (tried %s in SEQDIFF_CUDA_LIBS, LD_LIBRARY_PATH, /usr/local/cuda/lib64, /usr/local/nvidia/lib64, /usr/lib/x86_64-linux-gnu and Python site-packages nvidia/*/lib; set SEQDIFF_CUDA_LIBS to the folder that holds it)",
		e.what, strings.Join(e.names, ", "))
	if len(e.tried) > 0 {
		msg += ": " + strings.Join(e.tried, "; ")
	}
	return msg
}

func (e *errNoLibrary) Unwrap() error { return errNotFound }
