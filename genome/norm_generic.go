//go:build !(goexperiment.simd && amd64)

package genome

// normLine is the vector fast path of GOEXPERIMENT=simd builds on amd64;
// here every line goes through the lookup table.
func normLine(dst, src []byte) bool { return false }
