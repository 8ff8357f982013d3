package mdlm

import "fmt"

// Vocab describes the token ids the objectives and samplers need.
type Vocab struct {
	Size int   // number of token ids, 0..Size-1
	Mask int32 // [MASK]: the absorbing state; never a target, never sampled
	Pad  int32 // [PAD]: never masked, never in a loss, never sampled
	// Samplable lists the ids a sampler may emit and MLM may draw as a
	// random replacement (for DNA: A C G T N). Empty means every id but
	// Mask and Pad.
	Samplable []int32
}

// DNA is the Caduceus character vocabulary of DESIGN.md: [MASK]=3,
// [PAD]=4, A C G T N = 7..11, 12 ids.
func DNA() Vocab {
	return Vocab{Size: 12, Mask: 3, Pad: 4, Samplable: []int32{7, 8, 9, 10, 11}}
}

// Validate checks the ids are inside the vocabulary and the samplable set
// holds neither [MASK] nor [PAD].
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

// samplable returns the ids a sampler may emit.
func (v Vocab) samplable() []int32 {
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

// checkTokens rejects ids outside the vocabulary and, when clean is set,
// [MASK] (clean data never holds the absorbing state).
func (v Vocab) checkTokens(x []int32, B, L int, clean bool) error {
	if B <= 0 || L <= 0 || len(x) != B*L {
		return fmt.Errorf("tokens: %d ids for a %d x %d batch", len(x), B, L)
	}
	for i, id := range x {
		if id < 0 || int(id) >= v.Size {
			return fmt.Errorf("tokens: row %d position %d: id %d outside 0..%d", i/L, i%L, id, v.Size-1)
		}
		if clean && id == v.Mask {
			return fmt.Errorf("tokens: row %d position %d: clean data holds [MASK]", i/L, i%L)
		}
	}
	return nil
}
