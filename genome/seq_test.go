package genome

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func TestReverseComplement(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"A", "T"},
		{"ACGTN", "NACGT"},
		{"AACCGGTTN", "NAACCGGTT"},
		{"GATTACA", "TGTAATC"},
	}
	for _, tc := range cases {
		in := []byte(tc.in)
		got := ReverseComplement(in)
		if string(got) != tc.want {
			t.Errorf("ReverseComplement(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if string(in) != tc.in {
			t.Errorf("ReverseComplement changed its input to %q", in)
		}
		ReverseComplementInPlace(in)
		if string(in) != tc.want {
			t.Errorf("ReverseComplementInPlace(%q) = %q, want %q", tc.in, in, tc.want)
		}
		if twice := ReverseComplement(got); string(twice) != tc.in {
			t.Errorf("reverse complement twice of %q = %q", tc.in, twice)
		}
	}
	// Bytes that are not bases (special token ids, say) stay as they are.
	if got := ReverseComplement([]byte{0, 'A', 3}); !bytes.Equal(got, []byte{3, 'T', 0}) {
		t.Errorf("non-bases: %v", got)
	}
}

func TestNormalise(t *testing.T) {
	s := []byte("acgtnRYKMSWBDHVACGTN")
	if i := Normalise(s); i != -1 || string(s) != "ACGTNNNNNNNNNNNACGTN" {
		t.Fatalf("Normalise = %d, %q", i, s)
	}
	s = []byte("acXg")
	if i := Normalise(s); i != 2 || string(s[:2]) != "AC" {
		t.Fatalf("Normalise = %d, %q", i, s)
	}
	for c := 0; c < 256; c++ {
		v := norm[c]
		if v != bad && !IsNormalised([]byte{v}) {
			t.Fatalf("norm[%q] = %q", byte(c), v)
		}
	}
}

// TestNormLine holds the vector fast path (GOEXPERIMENT=simd on amd64) to
// the lookup table: when it claims a line, its output must be the table's.
func TestNormLine(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	alphabet := []byte("ACGTNacgtn")
	claimed := 0
	for iter := range 20000 {
		n := rng.IntN(140)
		src := make([]byte, n)
		for i := range src {
			src[i] = alphabet[rng.IntN(len(alphabet))]
		}
		if iter%2 == 1 && n > 0 { // one byte from anywhere
			src[rng.IntN(n)] = byte(rng.IntN(256))
		}
		want := make([]byte, n)
		ok := true
		for i, c := range src {
			want[i] = norm[c]
			if c&0xDF != 'A' && c&0xDF != 'C' && c&0xDF != 'G' && c&0xDF != 'T' && c&0xDF != 'N' {
				ok = false
			}
		}
		dst := make([]byte, n)
		if normLine(dst, src) {
			claimed++
			if !ok {
				t.Fatalf("normLine claimed %q", src)
			}
			if !bytes.Equal(dst, want) {
				t.Fatalf("normLine(%q) = %q, want %q", src, dst, want)
			}
		}
	}
	t.Logf("fast path took %d of 20000 lines (simd level: %v)", claimed, claimed > 0)
}
