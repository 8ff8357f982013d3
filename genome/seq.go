package genome

// bad marks a byte that is not a sequence letter in the lookup table. The
// normalised letters are all below 0x80, so OR-ing table values over a line
// and testing this bit finds any bad byte without a branch per byte.
const bad = 0x80

// norm maps every byte to its normalised base (A C G T N) or to bad.
var norm = func() (t [256]byte) {
	for i := range t {
		t[i] = bad
	}
	for _, c := range []byte("ACGTN") {
		t[c] = c
		t[c|0x20] = c // lower case: soft-masked
	}
	for _, c := range []byte("RYKMSWBDHV") {
		t[c] = 'N'
		t[c|0x20] = 'N'
	}
	return t
}()

// comp maps a base to its complement; bytes other than A C G T (N, and
// anything else such as special tokens) map to themselves.
var comp = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
	}
	for _, p := range []string{"AT", "CG", "at", "cg"} {
		t[p[0]], t[p[1]] = p[1], p[0]
	}
	return t
}()

// IsNormalised reports whether seq holds only A, C, G, T and N.
func IsNormalised(seq []byte) bool {
	for _, c := range seq {
		if c != 'A' && c != 'C' && c != 'G' && c != 'T' && c != 'N' {
			return false
		}
	}
	return true
}

// Normalise maps seq in place to A C G T N (lower case to upper case, IUPAC
// ambiguity codes to N) and returns the index of the first byte that is not
// a nucleotide letter, or -1 when there is none. Bytes before that index are
// normalised; the rest are left as they were.
func Normalise(seq []byte) int {
	for i, c := range seq {
		v := norm[c]
		if v == bad {
			return i
		}
		seq[i] = v
	}
	return -1
}

// ReverseComplement returns a new slice holding the reverse complement of
// seq: A<->T, C<->G, N (and any other byte) unchanged, order reversed.
func ReverseComplement(seq []byte) []byte {
	out := make([]byte, len(seq))
	n := len(seq)
	for i, c := range seq {
		out[n-1-i] = comp[c]
	}
	return out
}

// ReverseComplementInPlace reverse-complements seq in place.
func ReverseComplementInPlace(seq []byte) {
	for i, j := 0, len(seq)-1; i < j; i, j = i+1, j-1 {
		seq[i], seq[j] = comp[seq[j]], comp[seq[i]]
	}
	if len(seq)%2 == 1 {
		m := len(seq) / 2
		seq[m] = comp[seq[m]]
	}
}
