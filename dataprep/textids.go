package dataprep

// WithBOS returns ids led by the tokenizer's BOS ([CLS] for
// bert-base-uncased, <|endoftext|> for gpt2), as every text training row
// is: ids itself when it already starts with it or the tokenizer has none.
func WithBOS(tok Tokenizer, ids []int32) []int32 {
	bos := tok.Special().BOS
	if bos < 0 || len(ids) > 0 && ids[0] == int32(bos) {
		return ids
	}
	return append([]int32{int32(bos)}, ids...)
}

// CutAtEOS returns ids up to and including the first EOS after position 0
// ([SEP] ends an LM1B sentence, <|endoftext|> an OWT document; position 0
// is skipped because gpt2's BOS is the same token), or all of ids when
// there is none.
func CutAtEOS(tok Tokenizer, ids []int32) []int32 {
	eos := int32(tok.Special().EOS)
	if eos < 0 {
		return ids
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] == eos {
			return ids[:i+1]
		}
	}
	return ids
}
