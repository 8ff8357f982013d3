package dataprep

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/vocab"
)

func TestDNAIDs(t *testing.T) {
	var tok Tokenizer = DNA{}
	if tok.VocabSize() != 12 || tok.Name() != "dna-char" {
		t.Fatalf("vocab %d name %q", tok.VocabSize(), tok.Name())
	}
	want := map[string]int32{"[CLS]": 0, "[SEP]": 1, "[BOS]": 2, "[MASK]": 3, "[PAD]": 4, "[RESERVED]": 5, "[UNK]": 6, "A": 7, "C": 8, "G": 9, "T": 10, "N": 11}
	for s, id := range want {
		got, err := tok.Encode([]byte(s))
		if err != nil || len(got) != 1 || got[0] != id {
			t.Errorf("Encode(%q) = %v, %v; want [%d]", s, got, err, id)
		}
	}
	sp := tok.Special()
	if sp.PAD != 4 || sp.MASK != 3 || sp.CLS != 0 || sp.SEP != 1 || sp.BOS != 2 || sp.UNK != 6 || sp.EOS != -1 {
		t.Errorf("special ids %+v", sp)
	}
}

func TestDNAEncodeRules(t *testing.T) {
	got, err := DNA{}.Encode([]byte("acgtnRYKMSWBDHVryk"))
	if err != nil {
		t.Fatal(err)
	}
	want := []int32{7, 8, 9, 10, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	for _, bad := range []string{"ACXG", "AC G", "[MAS", "U", "-"} {
		if _, err := (DNA{}).Encode([]byte(bad)); err == nil {
			t.Errorf("Encode(%q): no error", bad)
		}
	}
	if _, err := (DNA{}).Decode([]int32{7, 12}); err == nil {
		t.Error("Decode of id 12: no error")
	}
	if _, err := (DNA{}).Decode([]int32{-1}); err == nil {
		t.Error("Decode of id -1: no error")
	}
}

func TestDNARoundTrip(t *testing.T) {
	all := make([]int32, 0, 3*vocab.DNASize)
	for r := 0; r < 3; r++ {
		for id := int32(vocab.DNASize - 1); id >= 0; id-- {
			all = append(all, id)
		}
	}
	s, err := DNA{}.Decode(all)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DNA{}.Encode([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back, all) {
		t.Fatalf("round trip %q: %v != %v", s, back, all)
	}
	seq := "GATTACAnnnACGT"
	ids, _ := DNA{}.Encode([]byte(seq))
	dec, _ := DNA{}.Decode(ids)
	if dec != strings.ToUpper(seq) {
		t.Fatalf("decode(encode(%q)) = %q", seq, dec)
	}
}

func TestEncodeBases(t *testing.T) {
	seq := []byte("ACGTNNacgtn")
	dst := make([]byte, len(seq))
	nN, err := EncodeBases(dst, seq)
	if err != nil {
		t.Fatal(err)
	}
	if nN != 3 || !slices.Equal(dst, []byte{7, 8, 9, 10, 11, 11, 7, 8, 9, 10, 11}) {
		t.Fatalf("ids %v nN %d", dst, nN)
	}
	if _, err := EncodeBases(dst, []byte("ACG*")); err == nil || !strings.Contains(err.Error(), "byte 3") {
		t.Fatalf("bad base: err %v", err)
	}
}

// Encoding DNA text and decoding it back.
func ExampleDNA() {
	tok := DNA{}
	ids, _ := tok.Encode([]byte("GATTACAn[MASK]"))
	fmt.Println(ids)
	vocab.ReverseComplement(ids)
	s, _ := tok.Decode(ids)
	fmt.Println(s)
	// Output:
	// [9 7 10 10 7 8 7 11 3]
	// [MASK]NTGTAATC
}

// encodeRow (AVX2 with GOEXPERIMENT=simd, else the table) agrees with the
// table on every length, with upper and lower case, IUPAC and bad bytes
// anywhere.
func TestEncodeRow(t *testing.T) {
	r := newTestRand(5)
	for n := 0; n < 200; n++ {
		for _, extra := range []byte{0, 'a', 'R', 'n', '*', 0x80, 0xCE, 'Q', 0} {
			src := []byte(randSeq(n, uint64(n)))
			for i := range src {
				if r.next()%7 == 0 {
					src[i] = 'N'
				}
			}
			if extra != 0 && n > 0 {
				src[int(r.next()%uint64(n))] = extra
			}
			want := make([]byte, n)
			okWant := encodeRowLUT(want, src)
			got := make([]byte, n)
			ok := encodeRow(got, src)
			if ok != okWant || (ok && !slices.Equal(got, want)) {
				t.Fatalf("n %d extra %q: ok %v (want %v), ids %v want %v", n, extra, ok, okWant, got, want)
			}
		}
	}
}

func BenchmarkEncodeRow(b *testing.B) {
	src := []byte(randSeq(1<<20, 1))
	dst := make([]byte, len(src))
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		encodeRow(dst, src)
	}
}

func BenchmarkEncodeRowLUT(b *testing.B) {
	src := []byte(randSeq(1<<20, 1))
	dst := make([]byte, len(src))
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		encodeRowLUT(dst, src)
	}
}
