//go:build linux && (amd64 || arm64)

package cuda

import (
	"fmt"
	"runtime"
	"unsafe"
)

// Probe loads the three libraries and lists the devices the driver sees,
// without creating a context or compiling a kernel: a check that takes
// well under a second, for a GPU session that must fail early (and say
// why) before it spends minutes on tests. Info holds what was found even
// when err is not nil. err names every library that did not load, on one
// line; it wraps ErrNoDevice when the driver is missing or sees no GPU.
func Probe() (Info, error) {
	var info Info
	var errs probeError
	if drv, err := driverOnce(); err != nil {
		errs = append(errs, fmt.Errorf("%w: %w", ErrNoDevice, err))
	} else {
		info.DriverLib = drv.path
		devs, ver, err := drv.devices()
		info.DriverVersion, info.Devices = ver, devs
		if err != nil {
			errs = append(errs, err)
		}
	}
	if nv, err := nvrtcOnce(); err != nil {
		errs = append(errs, err)
	} else {
		maj, mnr := nv.version()
		info.NVRTCLib, info.NVRTCVersion = nv.path, fmt.Sprintf("%d.%d", maj, mnr)
	}
	if bl, err := cublasOnce(); err != nil {
		errs = append(errs, err)
	} else {
		info.CuBLASLib = bl.path
	}
	if nc, err := ncclOnce(); err == nil {
		a, b, c := nc.version()
		info.NCCLLib, info.NCCLVersion = nc.path, fmt.Sprintf("%d.%d.%d", a, b, c)
	}
	if len(errs) > 0 {
		return info, errs
	}
	return info, nil
}

// DeviceCount is the number of GPUs the driver sees (an error wrapping
// ErrNoDevice where there is no driver or no GPU).
func DeviceCount() (int, error) {
	drv, err := driverOnce()
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrNoDevice, err)
	}
	devs, _, err := drv.devices()
	if err == nil && len(devs) == 0 {
		err = fmt.Errorf("%w: the driver reports none", ErrNoDevice)
	}
	return len(devs), err
}

// devices initialises the driver and describes every device it sees.
func (d *driverAPI) devices() ([]DeviceInfo, int, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if r := call(d.cuInit, 0); r != 0 {
		if r == cudaErrorNoDevice {
			return nil, 0, fmt.Errorf("%w: cuInit: %s", ErrNoDevice, d.errString(r))
		}
		return nil, 0, fmt.Errorf("cuda: cuInit: %s", d.errString(r))
	}
	var ver, count int32
	call(d.cuDriverGetVersion, uintptr(unsafe.Pointer(&ver)))
	if r := call(d.cuDeviceGetCount, uintptr(unsafe.Pointer(&count))); r != 0 {
		return nil, int(ver), fmt.Errorf("cuda: cuDeviceGetCount: %s", d.errString(r))
	}
	if count == 0 {
		return nil, int(ver), fmt.Errorf("%w: the driver reports none", ErrNoDevice)
	}
	var out []DeviceInfo
	for i := range int(count) {
		var dev int32
		if r := call(d.cuDeviceGet, uintptr(unsafe.Pointer(&dev)), uintptr(i)); r != 0 {
			return out, int(ver), fmt.Errorf("cuda: cuDeviceGet %d: %s", i, d.errString(r))
		}
		name := make([]byte, 256)
		call(d.cuDeviceGetName, uintptr(unsafe.Pointer(&name[0])), uintptr(len(name)), uintptr(dev))
		attr := func(a int) int {
			var v int32
			call(d.cuDeviceGetAttribute, uintptr(unsafe.Pointer(&v)), uintptr(a), uintptr(dev))
			return int(v)
		}
		var mem uintptr
		call(d.cuDeviceTotalMem, uintptr(unsafe.Pointer(&mem)), uintptr(dev))
		out = append(out, DeviceInfo{
			Ordinal:     i,
			Name:        cString(&name[0]),
			Arch:        fmt.Sprintf("sm_%d%d", attr(attrComputeCapMajor), attr(attrComputeCapMinor)),
			SMs:         attr(attrMultiprocessorCount),
			MemoryBytes: int64(mem),
		})
	}
	return out, int(ver), nil
}
