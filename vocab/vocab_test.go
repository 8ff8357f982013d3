package vocab

import (
	"slices"
	"testing"
)

func TestComplement(t *testing.T) {
	for _, c := range []struct{ in, want int32 }{{A, T}, {C, G}, {G, C}, {T, A}, {N, N}, {Mask, Mask}, {Pad, Pad}, {CLS, CLS}, {99, 99}, {-1, -1}} {
		if got := Complement(c.in); got != c.want {
			t.Errorf("Complement(%d) = %d, want %d", c.in, got, c.want)
		}
	}
	ids := []uint8{A, C, N, G, Pad, T}
	ReverseComplement(ids)
	if want := []uint8{A, Pad, C, N, G, T}; !slices.Equal(ids, want) {
		t.Errorf("ReverseComplement = %v, want %v", ids, want)
	}
	odd := []int32{A, A, C}
	ReverseComplement(odd)
	if want := []int32{G, T, T}; !slices.Equal(odd, want) {
		t.Errorf("ReverseComplement = %v, want %v", odd, want)
	}
}

func TestNames(t *testing.T) {
	for id, want := range map[int]string{A: "A", C: "C", G: "G", T: "T", N: "N", Mask: "[MASK]", Pad: "[PAD]"} {
		if DNANames[id] != want {
			t.Errorf("DNANames[%d] = %q, want %q", id, DNANames[id], want)
		}
	}
}

func TestVocab(t *testing.T) {
	d := DNA()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := For(DNATokenizer, DNASize, Mask, Pad); !slices.Equal(got.Samplable, d.Samplable) {
		t.Errorf("For(dna) samplable %v", got.Samplable)
	}
	text := For("gpt2", 50259, 50258, 50257)
	if err := text.Validate(); err != nil {
		t.Fatal(err)
	}
	ids := text.SamplableIDs()
	if len(ids) != 50257 || slices.Contains(ids, 50258) || slices.Contains(ids, 50257) {
		t.Errorf("text samplable: %d ids", len(ids))
	}
	for _, bad := range []Vocab{{Size: 1}, {Size: 12, Mask: 3, Pad: 3}, {Size: 12, Mask: 12, Pad: 4},
		{Size: 12, Mask: 3, Pad: 4, Samplable: []int32{7, 3}}, {Size: 12, Mask: 3, Pad: 4, Samplable: []int32{7, 7}}} {
		if bad.Validate() == nil {
			t.Errorf("%+v validated", bad)
		}
	}
	if err := d.Check([]int32{A, C, Mask, T}, 2, 2, true); err == nil {
		t.Error("clean batch with [MASK] accepted")
	}
	if err := d.Check([]int32{A, C, Mask, T}, 2, 2, false); err != nil {
		t.Error(err)
	}
	if err := d.Check([]int32{A, 12}, 1, 2, false); err == nil {
		t.Error("id 12 accepted")
	}
	if err := d.Check([]int32{A, C, G}, 2, 2, false); err == nil {
		t.Error("3 ids for 2 x 2 accepted")
	}
}
