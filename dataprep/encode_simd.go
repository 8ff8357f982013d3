//go:build goexperiment.simd && amd64

package dataprep

import (
	"simd/archsimd"

	"github.com/seqdiff/seqdiff/vocab"
)

var haveAVX2 = archsimd.X86.AVX2()

// By low nibble: 'A'=0x41 -> 1, 'C'=0x43 -> 3, 'G'=0x47 -> 7, 'T'=0x54 -> 4,
// 'N'=0x4E -> 14, all distinct, so one VPSHUFB maps 32 bases to ids and a
// second one, mapping the nibble back to its letter, checks that each byte
// was that letter (anything else, lower case included, differs).
var (
	nibbleID     = nibbleTable(map[byte]byte{1: vocab.A, 3: vocab.C, 7: vocab.G, 4: vocab.T, 14: vocab.N}, 0)
	nibbleLetter = nibbleTable(map[byte]byte{1: 'A', 3: 'C', 7: 'G', 4: 'T', 14: 'N'}, 0xff)
)

func nibbleTable(m map[byte]byte, other byte) (t [32]byte) {
	for i := range 16 {
		v, ok := m[byte(i)]
		if !ok {
			v = other
		}
		t[i], t[i+16] = v, v // VPSHUFB looks up within each 128-bit lane
	}
	return t
}

// encodeRow writes the ids of src into dst (same length) and reports
// whether every byte was a base (lower case and IUPAC codes included).
// Upper-case ACGTN, all that genome returns, takes the AVX2 path.
func encodeRow(dst, src []byte) bool {
	if !haveAVX2 || len(src) < 32 {
		return encodeRowLUT(dst, src)
	}
	dst = dst[:len(src)]
	ids := archsimd.LoadUint8x32Slice(nibbleID[:])
	letters := archsimd.LoadUint8x32Slice(nibbleLetter[:])
	n := len(src) &^ 31
	var diff archsimd.Uint8x32
	for i := 0; i < n; i += 32 {
		x := archsimd.LoadUint8x32Slice(src[i : i+32])
		xi := x.AsInt8x32()
		ids.PermuteOrZeroGrouped(xi).StoreSlice(dst[i : i+32])
		diff = diff.Or(letters.PermuteOrZeroGrouped(xi).Xor(x))
	}
	var d [32]byte
	diff.StoreSlice(d[:])
	for _, v := range d {
		if v != 0 {
			return encodeRowLUT(dst, src)
		}
	}
	return encodeRowLUT(dst[n:], src[n:])
}
