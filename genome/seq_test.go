package genome

import (
	"bytes"
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
