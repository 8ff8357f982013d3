//go:build linux && (amd64 || arm64)

package cuda

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestProbe: Probe answers on every machine; what it cannot load is named
// on one line, and a missing driver counts as no device.
func TestProbe(t *testing.T) {
	info, err := Probe()
	if err == nil {
		if len(info.Devices) == 0 || info.NVRTCLib == "" || info.CuBLASLib == "" || info.DriverVersion <= 0 {
			t.Errorf("Probe succeeded with %+v", info)
		}
		t.Logf("%+v", info)
		return
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("error spans lines: %q", msg)
	}
	if info.DriverLib == "" && !errors.Is(err, ErrNoDevice) {
		t.Errorf("no driver, but not ErrNoDevice: %v", err)
	}
	for lib, name := range map[string]string{info.NVRTCLib: "NVRTC", info.CuBLASLib: "cuBLAS"} {
		if lib == "" && !strings.Contains(msg, name) {
			t.Errorf("%s not loaded, but the error does not name it: %v", name, err)
		}
	}
	t.Logf("no CUDA: %v", err)
}

func TestProbeErrorOneLine(t *testing.T) {
	e := probeError{fmt.Errorf("%w: driver missing", ErrNoDevice), errors.New("NVRTC\nmissing")}
	if got, want := e.Error(), "cuda: no CUDA device: driver missing; NVRTC missing"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if !errors.Is(e, ErrNoDevice) {
		t.Error("errors.Is(probeError, ErrNoDevice) is false")
	}
}
