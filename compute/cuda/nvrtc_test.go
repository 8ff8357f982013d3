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
// attention templates unroll), so by default only the whole module for
// sm_90 is compiled; SEQDIFF_NVRTC_FULL=1 adds sm_80 and each file alone
// (whose errors are easier to read). -short skips it.
func TestNVRTCCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: NVRTC compile skipped")
	}
	nv, err := nvrtcOnce()
	if err != nil {
		if errors.Is(err, errNotFound) {
			t.Skipf("NVRTC not installed: %v", err)
		}
		t.Fatal(err)
	}
	maj, mnr := nv.version()
	t.Logf("NVRTC %d.%d from %s", maj, mnr, nv.path)
	archs, files := []string{"sm_90"}, []string(nil)
	if os.Getenv("SEQDIFF_NVRTC_FULL") == "1" {
		archs, files = []string{"sm_80", "sm_90"}, kernelFiles()
	}
	for _, arch := range archs {
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
		img, _, err := nv.compile(kernelSource(), "seqdiff.cu", nvrtcOptions(arch))
		if err != nil {
			t.Errorf("%s whole module: %v", arch, err)
		} else {
			t.Logf("%s whole module: %d bytes of CUBIN", arch, len(img))
		}
	}
	// A compile error must come back as an error holding NVRTC's log.
	_, _, err = nv.compile("extern \"C\" __global__ void broken(float* x) { x[0] = undefined_name; }", "broken.cu", nvrtcOptions("sm_80"))
	if err == nil || !strings.Contains(err.Error(), "undefined_name") {
		t.Errorf("broken kernel: err = %v, want NVRTC's log naming undefined_name", err)
	}
}
