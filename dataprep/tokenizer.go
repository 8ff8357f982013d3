package dataprep

import (
	"fmt"
	"strings"
)

// Special holds the ids of a tokenizer's special tokens; -1 marks one the
// tokenizer does not have.
type Special struct {
	CLS, SEP, BOS, EOS, MASK, PAD, UNK int
}

// Tokenizer is what the trainers, samplers and evaluators need of any
// tokenizer, DNA or text: a name recorded in manifests and checkpoints, the
// vocabulary size, a way between text and ids, and the special ids.
type Tokenizer interface {
	// Name identifies the tokenizer in manifest.json and config.json.
	Name() string
	// VocabSize is one more than the largest id.
	VocabSize() int
	// Encode turns text into ids; invalid input is an error naming the
	// offending byte offset.
	Encode(text []byte) ([]int32, error)
	// Decode turns ids back into text; an id outside the vocabulary is an error.
	Decode(ids []int32) (string, error)
	// Special returns the ids of the special tokens.
	Special() Special
}

// DNA token ids (DESIGN.md, Caduceus convention, character level).
const (
	CLS      = 0
	SEP      = 1
	BOS      = 2
	MASK     = 3
	PAD      = 4
	RESERVED = 5
	UNK      = 6
	A        = 7
	C        = 8
	G        = 9
	T        = 10
	N        = 11

	// DNAVocabSize is the number of DNA token ids.
	DNAVocabSize = 12
)

// DNATokenizerName is the name the DNA tokenizer records in manifests.
const DNATokenizerName = "dna-char"

var dnaTokens = [DNAVocabSize]string{"[CLS]", "[SEP]", "[BOS]", "[MASK]", "[PAD]", "[RESERVED]", "[UNK]", "A", "C", "G", "T", "N"}

// invalid marks bytes of baseID that are not nucleotides.
const invalid = 0xff

// baseID maps a sequence byte to its token id: ACGTN in either case, the IUPAC
// ambiguity codes as N (DESIGN.md), anything else to invalid. It is the one
// lookup table prep uses on its hot path.
var baseID = func() (t [256]uint8) {
	for i := range t {
		t[i] = invalid
	}
	for _, c := range "RYKMSWBDHVN" {
		t[c] = N
		t[c+'a'-'A'] = N
	}
	for c, id := range map[byte]uint8{'A': A, 'C': C, 'G': G, 'T': T} {
		t[c] = id
		t[c+'a'-'A'] = id
	}
	return t
}()

// rcID maps a DNA token id to the id of its complement; specials map to
// themselves.
var rcID = [DNAVocabSize]uint8{CLS, SEP, BOS, MASK, PAD, RESERVED, UNK, T, G, C, A, N}

// DNA is the character-level DNA tokenizer of DESIGN.md. Its zero value is
// ready to use.
type DNA struct{}

var _ Tokenizer = DNA{}

// Name returns "dna-char".
func (DNA) Name() string { return DNATokenizerName }

// VocabSize returns 12.
func (DNA) VocabSize() int { return DNAVocabSize }

// Special returns the DNA special ids; DNA has no EOS.
func (DNA) Special() Special {
	return Special{CLS: CLS, SEP: SEP, BOS: BOS, EOS: -1, MASK: MASK, PAD: PAD, UNK: UNK}
}

// Encode turns a DNA string into ids. Bases read case-insensitively, IUPAC
// ambiguity codes read as N, and the bracketed special names ("[MASK]", …)
// read as their ids, so Encode(Decode(ids)) == ids for every valid ids.
func (DNA) Encode(text []byte) ([]int32, error) {
	ids := make([]int32, 0, len(text))
	for i := 0; i < len(text); i++ {
		c := text[i]
		if id := baseID[c]; id != invalid {
			ids = append(ids, int32(id))
			continue
		}
		if c == '[' {
			found := false
			for id, s := range dnaTokens[:A] {
				if strings.HasPrefix(string(text[i:]), s) {
					ids = append(ids, int32(id))
					i += len(s) - 1
					found = true
					break
				}
			}
			if found {
				continue
			}
		}
		return nil, fmt.Errorf("dna tokenizer: byte %d: invalid character %q", i, c)
	}
	return ids, nil
}

// Decode turns ids into a string of bases and bracketed special names.
func (DNA) Decode(ids []int32) (string, error) {
	var b strings.Builder
	b.Grow(len(ids))
	for i, id := range ids {
		if id < 0 || id >= DNAVocabSize {
			return "", fmt.Errorf("dna tokenizer: position %d: id %d outside the vocabulary of %d", i, id, DNAVocabSize)
		}
		b.WriteString(dnaTokens[id])
	}
	return b.String(), nil
}

// EncodeBases writes the token ids of seq into dst (len(dst) >= len(seq)) and
// returns how many of them are N. It is the allocation-free path prep uses.
// A byte that is not a base is an error naming its offset in seq.
func EncodeBases(dst, seq []byte) (nN int, err error) {
	dst = dst[:len(seq)]
	bad := uint8(0)
	for i, c := range seq {
		id := baseID[c]
		dst[i] = id
		bad |= id & 0x80
	}
	if bad != 0 {
		for i, c := range seq {
			if baseID[c] == invalid {
				return 0, fmt.Errorf("byte %d: invalid base %q", i, c)
			}
		}
	}
	return countN(dst), nil
}

// encodeRowLUT is encodeRow through the lookup table.
func encodeRowLUT(dst, src []byte) bool {
	dst = dst[:len(src)]
	var acc uint8
	for i, c := range src {
		id := baseID[c]
		dst[i] = id
		acc |= id
	}
	return acc&0x80 == 0 // valid ids are below 12, invalid is 0xff
}

// countN returns the number of N ids in ids.
func countN(ids []byte) int {
	n := 0
	for _, id := range ids {
		if id == N {
			n++
		}
	}
	return n
}

// ID is a token id type: uint8 as stored in DNA shards, int32 as the model
// takes it.
type ID interface{ ~uint8 | ~int32 }

// ReverseComplement reverses ids in place and complements the DNA bases
// (A<->T, C<->G, N->N); special ids stay as they are.
func ReverseComplement[T ID](ids []T) {
	for i, j := 0, len(ids)-1; i <= j; i, j = i+1, j-1 {
		a, b := ids[i], ids[j]
		ids[i], ids[j] = rcOne(b), rcOne(a)
	}
}

func rcOne[T ID](id T) T {
	if id >= 0 && int(id) < DNAVocabSize {
		return T(rcID[id])
	}
	return id
}
