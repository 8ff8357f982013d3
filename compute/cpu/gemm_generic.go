//go:build !(goexperiment.simd && amd64)

package cpu

// Without GOEXPERIMENT=simd on amd64 there is no vector sgemm; the
// pure-Go fallback is gonum's.
func simdGEMMAvailable() bool { return false }

func newSIMDBLAS() sgemmer { return nil }
