package vocab

import "fmt"

// DNA token ids (docs/design.md, "Token ids"): the special tokens first,
// then the bases. IUPAC ambiguity codes read as N.
const (
	CLS      = 0
	SEP      = 1
	BOS      = 2
	Mask     = 3
	Pad      = 4
	Reserved = 5
	UNK      = 6
	A        = 7
	C        = 8
	G        = 9
	T        = 10
	N        = 11

	// DNASize is the number of DNA token ids.
	DNASize = 12
)

// DNATokenizer is the name the DNA tokenizer records in manifests and
// checkpoints.
const DNATokenizer = "dna-char"

// DNANames are the DNA ids' strings: the bases as letters, the special
// tokens bracketed.
var DNANames = [DNASize]string{"[CLS]", "[SEP]", "[BOS]", "[MASK]", "[PAD]", "[RESERVED]", "[UNK]", "A", "C", "G", "T", "N"}

// Bases are A, C, G and T: what a DNA sampler emits when a row needs a
// first token drawn uniformly.
var Bases = [4]int32{A, C, G, T}

// ID is a token id type: uint8 as DNA shards store it, int32 as the model
// takes it.
type ID interface{ ~uint8 | ~int32 }

// Complement is the id of the complementary base (A<->T, C<->G); N and
// every special or out-of-range id map to themselves.
func Complement[I ID](id I) I {
	if id >= A && id <= T {
		return A + T - id
	}
	return id
}

// ReverseComplement reverses DNA ids in place and complements the bases.
func ReverseComplement[I ID](ids []I) {
	for i, j := 0, len(ids)-1; i <= j; i, j = i+1, j-1 {
		ids[i], ids[j] = Complement(ids[j]), Complement(ids[i])
	}
}

// Vocab is what the objectives, samplers and scorers need of a
// vocabulary.
type Vocab struct {
	Size int   // number of token ids, 0..Size-1
	Mask int32 // [MASK]: MDLM's absorbing state; never a target, never sampled
	Pad  int32 // [PAD]: never masked, never in a loss, never sampled
	// Samplable lists the ids a sampler may emit and MLM may draw as a
	// random replacement (DNA: A C G T N). Empty means every id but Mask
	// and Pad.
	Samplable []int32
}

// DNA is the DNA vocabulary: 12 ids, [MASK] = 3, [PAD] = 4, samplable
// A C G T N.
func DNA() Vocab {
	return Vocab{Size: DNASize, Mask: Mask, Pad: Pad, Samplable: []int32{A, C, G, T, N}}
}

// For is the vocabulary of a model or a prep directory: DNA() when the
// tokenizer is the DNA one with its usual ids, else size, mask and pad as
// given with every other id samplable (a text tokenizer).
func For(tokenizer string, size, mask, pad int) Vocab {
	if d := DNA(); (tokenizer == DNATokenizer || tokenizer == "") && size == d.Size && mask == int(d.Mask) && pad == int(d.Pad) {
		return d
	}
	return Vocab{Size: size, Mask: int32(mask), Pad: int32(pad)}
}

// Validate checks that the ids lie inside the vocabulary, that [MASK] and
// [PAD] differ, and that the samplable set holds neither.
func (v Vocab) Validate() error {
	if v.Size < 2 {
		return fmt.Errorf("vocab: size %d", v.Size)
	}
	if v.Mask < 0 || int(v.Mask) >= v.Size || v.Pad < 0 || int(v.Pad) >= v.Size || v.Mask == v.Pad {
		return fmt.Errorf("vocab: mask %d and pad %d must be distinct ids below %d", v.Mask, v.Pad, v.Size)
	}
	seen := make(map[int32]bool)
	for _, id := range v.Samplable {
		if id < 0 || int(id) >= v.Size || id == v.Mask || id == v.Pad || seen[id] {
			return fmt.Errorf("vocab: samplable id %d is outside 0..%d, [MASK], [PAD] or repeated", id, v.Size-1)
		}
		seen[id] = true
	}
	return nil
}

// SamplableIDs returns the ids a sampler may emit.
func (v Vocab) SamplableIDs() []int32 {
	if len(v.Samplable) > 0 {
		return v.Samplable
	}
	ids := make([]int32, 0, v.Size)
	for id := int32(0); int(id) < v.Size; id++ {
		if id != v.Mask && id != v.Pad {
			ids = append(ids, id)
		}
	}
	return ids
}

// Check rejects a batch that is not B x L ids inside the vocabulary and,
// when clean is set, one that holds [MASK] (clean data never holds the
// absorbing state).
func (v Vocab) Check(x []int32, B, L int, clean bool) error {
	if B <= 0 || L <= 0 || len(x) != B*L {
		return fmt.Errorf("%d ids for a %d x %d batch", len(x), B, L)
	}
	for i, id := range x {
		if id < 0 || int(id) >= v.Size {
			return fmt.Errorf("row %d position %d: id %d outside 0..%d", i/L, i%L, id, v.Size-1)
		}
		if clean && id == v.Mask {
			return fmt.Errorf("row %d position %d: clean data holds [MASK]", i/L, i%L)
		}
	}
	return nil
}
