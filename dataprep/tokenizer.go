package dataprep

import (
	"fmt"
	"strings"

	"github.com/seqdiff/seqdiff/vocab"
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

// invalid marks bytes of baseID that are not nucleotides.
const invalid = 0xff

// baseID maps a sequence byte to its token id: ACGTN in either case, the IUPAC
// ambiguity codes as N (docs/design.md), anything else to invalid. It is the one
// lookup table prep uses on its hot path.
var baseID = func() (t [256]uint8) {
	for i := range t {
		t[i] = invalid
	}
	for _, c := range "RYKMSWBDHVN" {
		t[c] = vocab.N
		t[c+'a'-'A'] = vocab.N
	}
	for c, id := range map[byte]uint8{'A': vocab.A, 'C': vocab.C, 'G': vocab.G, 'T': vocab.T} {
		t[c] = id
		t[c+'a'-'A'] = id
	}
	return t
}()

// DNA is the character-level DNA tokenizer of docs/design.md, over the ids of package vocab. Its zero value is
// ready to use.
type DNA struct{}

var _ Tokenizer = DNA{}

// Name returns "dna-char".
func (DNA) Name() string { return vocab.DNATokenizer }

// VocabSize returns 12.
func (DNA) VocabSize() int { return vocab.DNASize }

// Special returns the DNA special ids; DNA has no EOS.
func (DNA) Special() Special {
	return Special{CLS: vocab.CLS, SEP: vocab.SEP, BOS: vocab.BOS, EOS: -1, MASK: vocab.Mask, PAD: vocab.Pad, UNK: vocab.UNK}
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
			for id, s := range vocab.DNANames[:vocab.A] {
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
		if id < 0 || id >= vocab.DNASize {
			return "", fmt.Errorf("dna tokenizer: position %d: id %d outside the vocabulary of %d", i, id, vocab.DNASize)
		}
		b.WriteString(vocab.DNANames[id])
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
		if id == vocab.N {
			n++
		}
	}
	return n
}
