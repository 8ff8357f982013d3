package dataprep

import (
	"fmt"
	"slices"
	"testing"
)

func TestWithBOSCutAtEOS(t *testing.T) {
	bert, err := TokenizerByName(BertTokenizerName)
	if err != nil {
		t.Fatal(err)
	}
	gpt2, err := TokenizerByName(GPT2TokenizerName)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		tok       Tokenizer
		in, bos   []int32
		cut, want []int32
	}{
		{bert, []int32{7592}, []int32{101, 7592}, []int32{101, 7592, 102, 2088, 102}, []int32{101, 7592, 102}},
		{bert, []int32{101, 7592}, []int32{101, 7592}, []int32{101, 7592, 2088}, []int32{101, 7592, 2088}},
		{bert, nil, []int32{101}, nil, nil},
		{gpt2, []int32{15496}, []int32{50256, 15496}, []int32{50256, 15496, 50256, 995}, []int32{50256, 15496, 50256}},
	} {
		if got := WithBOS(c.tok, c.in); !slices.Equal(got, c.bos) {
			t.Errorf("%s WithBOS(%v) = %v, want %v", c.tok.Name(), c.in, got, c.bos)
		}
		if got := CutAtEOS(c.tok, c.cut); !slices.Equal(got, c.want) {
			t.Errorf("%s CutAtEOS(%v) = %v, want %v", c.tok.Name(), c.cut, got, c.want)
		}
	}
}

// A sampled LM1B row becomes one sentence: BOS first, cut after [SEP].
func ExampleCutAtEOS() {
	tok, _ := TokenizerByName(BertTokenizerName)
	ids, _ := tok.Encode([]byte("hello world."))
	row := append(WithBOS(tok, ids), 102, 2088, 2088) // what follows [SEP] is noise
	s, _ := tok.Decode(CutAtEOS(tok, row))
	fmt.Println(s)
	// Output: [CLS] hello world . [SEP]
}
