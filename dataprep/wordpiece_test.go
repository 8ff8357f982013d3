package dataprep

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func bert(t testing.TB) *WordPiece {
	t.Helper()
	w, err := BertBaseUncased()
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// The embedded vocabulary is Hugging Face's bert-base-uncased vocab.txt.
func TestBertVocabFile(t *testing.T) {
	sum := sha256.Sum256([]byte(bertVocabFile))
	if got := hex.EncodeToString(sum[:]); got != "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3" {
		t.Errorf("vocab sha256 %s", got)
	}
	w := bert(t)
	if w.VocabSize() != BertVocabSize {
		t.Errorf("vocab size %d", w.VocabSize())
	}
	for id, name := range map[int]string{BertPAD: "[PAD]", BertUNK: "[UNK]", BertCLS: "[CLS]", BertSEP: "[SEP]", BertMASK: "[MASK]"} {
		if w.tokens[id] != name {
			t.Errorf("id %d is %q, want %s", id, w.tokens[id], name)
		}
	}
}

// Reference encodings of bert-base-uncased (Hugging Face BertTokenizer).
// The tokens were derived by hand from the BasicTokenizer and WordPiece
// rules, and the ids are their line numbers (from 0) in vocab.txt, which
// the test checks too. "I have a new GPU!" is the example of Hugging
// Face's tokenizer documentation; "Hello, world!" with [CLS]/[SEP] is
// 101 7592 1010 2088 999 102 there.
var bertCases = []struct {
	text   string
	tokens string
	ids    []int32
}{
	{"Hello, world!", "hello , world !", []int32{7592, 1010, 2088, 999}},
	{"Hello world, the quick brown fox.", "hello world , the quick brown fox .", []int32{7592, 2088, 1010, 1996, 4248, 2829, 4419, 1012}},
	{"I have a new GPU!", "i have a new gp ##u !", []int32{1045, 2031, 1037, 2047, 14246, 2226, 999}},
	// Greedy longest match: "una" is the longest vocabulary prefix.
	{"unaffable", "una ##ffa ##ble", []int32{14477, 20961, 3468}},
	// Accents: lower-case, NFD, Mn marks dropped.
	{"Café Naïve", "cafe naive", []int32{7668, 15743}},
	{"élève", "el ##eve", []int32{3449, 18697}},
	// Numbers: punctuation splits them.
	{"1,234.56", "1 , 234 . 56", []int32{1015, 1010, 22018, 1012, 5179}},
	// CJK ideographs are words of their own; an emoji is [UNK].
	{"中国人 hello", "中 国 人 hello", []int32{1746, 1799, 1756, 7592}},
	{"It's 3.14 — naïve café 東京 🤗!", "it ' s 3 . 14 — naive cafe 東 京 [UNK] !",
		[]int32{2009, 1005, 1055, 1017, 1012, 2403, 1517, 15743, 7668, 1879, 1755, 100, 999}},
	// Python's str.lower: a final capital sigma becomes ς.
	{"ΟΔΟΣ.", "ο ##δ ##ος .", []int32{1169, 29722, 15297, 1012}},
	// NUL, U+FFFD and zero-width space (Cf) are dropped.
	{"x\x00y \ufffd a\u200bb", "x ##y ab", []int32{1060, 2100, 11113}},
	{"won 't", "won ' t", []int32{2180, 1005, 1056}},
	// Special token names read as their ids.
	{"[CLS] a [MASK] b[SEP]", "[CLS] a [MASK] b [SEP]", []int32{101, 1037, 103, 1038, 102}},
	{"☃", "[UNK]", []int32{100}},
	{strings.Repeat("a", 101) + " ok", "[UNK] ok", []int32{100, 7929}},
	{" \t\n ", "", nil},
}

func TestBertParity(t *testing.T) {
	w := bert(t)
	lines := strings.Split(strings.TrimSuffix(bertVocabFile, "\n"), "\n")
	for _, c := range bertCases {
		got, err := w.Encode([]byte(c.text))
		if err != nil {
			t.Fatalf("%q: %v", c.text, err)
		}
		if !slices.Equal(got, c.ids) {
			t.Errorf("%q: ids %v, want %v", c.text, got, c.ids)
		}
		toks := strings.Fields(c.tokens)
		if len(toks) != len(c.ids) {
			t.Fatalf("%q: case has %d tokens and %d ids", c.text, len(toks), len(c.ids))
		}
		for i, tok := range toks {
			if lines[c.ids[i]] != tok {
				t.Errorf("%q: id %d is line %q of vocab.txt, the case says %q", c.text, c.ids[i], lines[c.ids[i]], tok)
			}
		}
	}
}

func TestBertDecode(t *testing.T) {
	w := bert(t)
	for _, c := range []struct {
		ids  []int32
		want string
	}{
		{[]int32{101, 7592, 1010, 2088, 999, 102}, "[CLS] hello , world ! [SEP]"},
		{[]int32{14477, 20961, 3468, 7668}, "unaffable cafe"},
		{nil, ""},
	} {
		got, err := w.Decode(c.ids)
		if err != nil || got != c.want {
			t.Errorf("Decode(%v) = %q, %v; want %q", c.ids, got, err, c.want)
		}
	}
	// Decoding and encoding again gives the ids back for words in the
	// vocabulary.
	for _, c := range bertCases[:9] {
		s, _ := w.Decode(c.ids)
		again, err := w.Encode([]byte(s))
		if err != nil || !slices.Equal(again, c.ids) {
			t.Errorf("%q: decoded %q re-encodes to %v", c.text, s, again)
		}
	}
	if _, err := w.Decode([]int32{5, BertVocabSize}); err == nil || !strings.Contains(err.Error(), "position 1") {
		t.Errorf("id out of range: err %v", err)
	}
	if _, err := w.Decode([]int32{-1}); err == nil {
		t.Error("negative id decoded")
	}
}

func TestBertInvalidUTF8(t *testing.T) {
	_, err := bert(t).Encode([]byte("ok caf\xc3"))
	if err == nil || !strings.Contains(err.Error(), "byte 6") {
		t.Errorf("err %v", err)
	}
}

func BenchmarkBertEncode(b *testing.B) {
	w := bert(b)
	text := []byte("The payments , which began in March 2007 at $ 2,900 a month , dwindled to less than $ 800 a month in May of this year - a full year after the Secret Service began protecting Obama .")
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		w.Encode(text)
	}
}

func ExampleBertBaseUncased() {
	w, _ := BertBaseUncased()
	ids, _ := w.Encode([]byte("Hello, world! Café naïve, 1,234.56"))
	fmt.Println(ids)
	s, _ := w.Decode(ids)
	fmt.Println(s)
	// Output:
	// [7592 1010 2088 999 7668 15743 1010 1015 1010 22018 1012 5179]
	// hello , world ! cafe naive , 1 , 234 . 56
}
