//go:build !(goexperiment.simd && amd64)

package dataprep

// encodeRow writes the ids of src into dst (same length) and reports
// whether every byte was a base (lower case and IUPAC codes included).
func encodeRow(dst, src []byte) bool { return encodeRowLUT(dst, src) }
