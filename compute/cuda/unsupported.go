//go:build !(linux && (amd64 || arm64))

package cuda

import (
	"errors"
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

// New always fails here.
func New(Options) (*Backend, error) {
	return nil, errors.New("cuda: not supported on this platform (linux amd64/arm64 only)")
}

// Close does nothing.
func (b *Backend) Close() error { return nil }

// DeviceName is empty.
func (b *Backend) DeviceName() string { return "" }
