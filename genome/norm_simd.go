//go:build goexperiment.simd && amd64

package genome

import "simd/archsimd"

var haveAVX2 = archsimd.X86.AVX2()

// normLine normalises a sequence line of 32 bytes or more that holds only
// A, C, G, T and N (either case), 32 bytes at a time, and reports whether
// it did; otherwise dst is unspecified and the caller uses the table.
// x|0x20 is one of "acgtn" exactly when x is one of "ACGTNacgtn", and then
// x&^0x20 is its upper case. The last 32 bytes overlap the previous ones
// rather than falling back to a scalar tail.
func normLine(dst, src []byte) bool {
	n := len(src)
	if !haveAVX2 || n < 32 || len(dst) < n {
		return false
	}
	lower := archsimd.BroadcastUint8x32(0x20)
	upper := archsimd.BroadcastUint8x32(0xDF)
	a := archsimd.BroadcastUint8x32('a')
	c := archsimd.BroadcastUint8x32('c')
	g := archsimd.BroadcastUint8x32('g')
	t := archsimd.BroadcastUint8x32('t')
	nn := archsimd.BroadcastUint8x32('n')
	for i := 0; ; i += 32 {
		if i > n-32 {
			i = n - 32
		}
		x := archsimd.LoadUint8x32Slice(src[i : i+32])
		y := x.Or(lower)
		m := y.Equal(a).Or(y.Equal(c)).Or(y.Equal(g)).Or(y.Equal(t)).Or(y.Equal(nn))
		if m.ToBits() != 0xFFFFFFFF {
			return false
		}
		x.And(upper).StoreSlice(dst[i : i+32])
		if i == n-32 {
			return true
		}
	}
}
