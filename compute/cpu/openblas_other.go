//go:build !((linux || darwin) && (amd64 || arm64)) || noopenblas

package cpu

import "errors"

// loadOpenBLAS: dynamic loading without cgo is wired up for linux and
// darwin on amd64/arm64 only; elsewhere, or when built with
// -tags noopenblas (a truly static binary: purego makes a CGO_ENABLED=0
// binary load libc dynamically), the pure-Go BLAS is used.
func loadOpenBLAS() (sgemmer, error) {
	return nil, errors.New("OpenBLAS loading not supported on this platform")
}
