package cuda

import "strings"

// Info is what Probe found: where each library was loaded from (empty
// when it was not), the driver's CUDA version and the devices.
type Info struct {
	DriverLib string `json:"driver_lib"`
	NVRTCLib  string `json:"nvrtc_lib"`
	CuBLASLib string `json:"cublas_lib"`
	// DriverVersion is cuDriverGetVersion's: 12040 is CUDA 12.4 (not the
	// NVIDIA driver's own number, which nvidia-smi reports).
	DriverVersion int    `json:"driver_cuda_version"`
	NVRTCVersion  string `json:"nvrtc_version"` // "12.4"
	// NCCL is needed only by data-parallel runs on GPUs: Probe does not
	// count it missing as an error.
	NCCLLib     string       `json:"nccl_lib"`
	NCCLVersion string       `json:"nccl_version"` // "2.21.5"
	Devices     []DeviceInfo `json:"devices"`
}

// DeviceInfo describes one device as the driver reports it.
type DeviceInfo struct {
	Ordinal     int    `json:"ordinal"`
	Name        string `json:"name"`
	Arch        string `json:"arch"` // sm_XX, from the compute capability
	SMs         int    `json:"sms"`
	MemoryBytes int64  `json:"memory_bytes"`
}

// probeError lists every problem Probe met, on one line, so a script can
// print it as its one line of diagnosis; errors.Is sees each of them.
type probeError []error

func (e probeError) Error() string {
	s := make([]string, len(e))
	for i, err := range e {
		s[i] = strings.ReplaceAll(err.Error(), "\n", " ")
	}
	return strings.Join(s, "; ")
}

func (e probeError) Unwrap() []error { return e }
