//go:build !(linux && (amd64 || arm64))

package cuda

import (
	"errors"
	"fmt"
	"io"

	"github.com/seqdiff/seqdiff/compute"
)

// Options configure New.
type Options struct {
	Device int
	TF32   bool
	Log    io.Writer
}

// Backend is unavailable on this platform: loading CUDA without cgo is
// wired up for linux on amd64 and arm64 only.
type Backend struct{ compute.Backend }

// ErrNoDevice is wrapped by New's error when there is no GPU to use.
var ErrNoDevice = errors.New("cuda: no CUDA device")

// New always fails here.
func New(Options) (*Backend, error) {
	return nil, fmt.Errorf("%w: CUDA is supported on linux amd64/arm64 only", ErrNoDevice)
}

// Close does nothing.
func (b *Backend) Close() error { return nil }

// DeviceName is empty.
func (b *Backend) DeviceName() string { return "" }

// DeviceCount is 0 here.
func DeviceCount() (int, error) {
	_, err := New(Options{})
	return 0, err
}

// Probe always fails here.
func Probe() (Info, error) {
	_, err := New(Options{})
	return Info{}, err
}
