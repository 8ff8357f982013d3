//go:build linux && (amd64 || arm64)

package cuda

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// TestNVRTCCompile compiles every embedded kernel file, and the whole
// module, for sm_80 and sm_90 through the purego NVRTC loader. It needs
// libnvrtc but no GPU, so it checks the loader and every kernel's syntax
// and types on a machine without one (Debian: apt-get install
// libnvrtc11.2 from non-free; or a pip nvidia-cuda-nvrtc wheel with
// SEQDIFF_CUDA_LIBS pointing at its lib folder).
//
// NVRTC takes tens of seconds per architecture over these kernels (the
// attention templates unroll), so by default the whole module is compiled
// for sm_80 and sm_90 and the CUBINs go to the backend's disk cache (keyed
// by source, architecture, options and NVRTC version: a run after a kernel
// edit compiles again, an unchanged rerun takes no time).
// SEQDIFF_NVRTC_FULL=1 also compiles each file alone (errors are easier to
// read) and bypasses the cache; SEQDIFF_NVRTC_VERBOSE=1 logs ptxas's
// registers, shared memory and spills per kernel. It runs only with
// SEQDIFF_NVRTC_TEST=1; -short skips it.
func TestNVRTCCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: NVRTC compile skipped")
	}
	// An uncached compile of every kernel takes minutes on 2 cores, past
	// go test's per-package limit under load: run it on purpose, not in make test.
	if os.Getenv("SEQDIFF_NVRTC_TEST") != "1" {
		t.Skip("NVRTC compile check skipped: set SEQDIFF_NVRTC_TEST=1 to run it (needs libnvrtc)")
	}
	nv, err := nvrtcOnce()
	if err != nil {
		if errors.Is(err, errNotFound) {
			t.Skipf("NVRTC not installed: %v", err)
		}
		t.Fatal(err)
	}
	maj, mnr := nv.version()
	archs := nv.supportedArchs()
	t.Logf("NVRTC %d.%d from %s; architectures %v", maj, mnr, nv.path, archs)
	if maj*10+mnr >= 112 && len(archs) == 0 {
		t.Error("NVRTC 11.2+ listed no supported architectures")
	}
	// PTX for a virtual architecture: what a GPU newer than NVRTC gets.
	ptx, _, err := nv.compile(kernelSource("elementwise.cu"), "elementwise.cu", nvrtcOptions("compute_80"))
	if err != nil || !strings.Contains(string(ptx), ".entry adamw") || ptx[len(ptx)-1] != 0 {
		t.Errorf("compute_80 PTX: err %v; want NUL-terminated PTX with the adamw entry", err)
	}
	full := os.Getenv("SEQDIFF_NVRTC_FULL") == "1"
	var files []string
	if full {
		files = kernelFiles()
	}
	for _, arch := range []string{"sm_80", "sm_90"} {
		for _, f := range files {
			img, log, err := nv.compile(kernelSource(f), f, nvrtcOptions(arch))
			if err != nil {
				t.Errorf("%s %s: %v", arch, f, err)
				continue
			}
			if len(img) == 0 {
				t.Errorf("%s %s: empty image", arch, f)
			}
			if strings.TrimSpace(log) != "" {
				t.Logf("%s %s log:\n%s", arch, f, log)
			}
		}
		opts := nvrtcOptions(arch)
		if os.Getenv("SEQDIFF_NVRTC_VERBOSE") == "1" { // registers, shared memory and spills per kernel
			opts = append(opts, "--ptxas-options=-v")
		}
		src, dir := kernelSource(), cacheDir()
		key := cacheKey(src, arch, opts, maj, mnr, libIdentity(nv.path))
		if _, ok := cacheLoad(dir, key, ".cubin"); ok && !full {
			t.Logf("%s whole module: compiled before (cache %s)", arch, key[:12])
			continue
		}
		img, log, err := nv.compile(src, "seqdiff.cu", opts)
		if log != "" {
			t.Logf("%s whole module log:\n%s", arch, log)
		}
		if err != nil {
			t.Errorf("%s whole module: %v", arch, err)
		} else {
			t.Logf("%s whole module: %d bytes of CUBIN", arch, len(img))
			if err := cacheStore(dir, key, ".cubin", img); err != nil {
				t.Logf("cache: %v", err)
			}
		}
	}
	// A compile error must come back as an error holding NVRTC's log.
	_, _, err = nv.compile("extern \"C\" __global__ void broken(float* x) { x[0] = undefined_name; }", "broken.cu", nvrtcOptions("sm_80"))
	if err == nil || !strings.Contains(err.Error(), "undefined_name") {
		t.Errorf("broken kernel: err = %v, want NVRTC's log naming undefined_name", err)
	}
}
