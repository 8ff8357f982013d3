package dataprep

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/dlclark/regexp2/v2"
	"github.com/seqdiff/seqdiff/vocab"
)

// Reference encodings of GPT-2 (Hugging Face's gpt2 tokenizer, tiktoken's
// r50k_base). The first three are published Hugging Face outputs; for the
// rest the pieces follow by hand from GPT-2's pre-tokenizing pattern
// ('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)
// and the test checks that each id decodes to its piece.
var gpt2Cases = []struct {
	text   string
	pieces []string
	ids    []int32
}{
	{"Hello world, the quick brown fox.", []string{"Hello", " world", ",", " the", " quick", " brown", " fox", "."},
		[]int32{15496, 995, 11, 262, 2068, 7586, 21831, 13}},
	{"Hello, world!", []string{"Hello", ",", " world", "!"}, []int32{15496, 11, 995, 0}},
	{"Hello world", []string{"Hello", " world"}, []int32{15496, 995}},
	{"I have a new GPU!", []string{"I", " have", " a", " new", " GPU", "!"}, []int32{40, 423, 257, 649, 11362, 0}},
	{"1,234.56", []string{"1", ",", "234", ".", "56"}, []int32{16, 11, 24409, 13, 3980}},
	{"Café Naïve", []string{"C", "af", "é", " Na", "ïve"}, []int32{34, 1878, 2634, 11013, 38776}},
	// Contractions split off; a run of spaces leaves its last one to the
	// next word; newlines before a letter stand alone.
	{"I'm here  now\n\nok", []string{"I", "'m", " here", " ", " now", "\n", "\n", "ok"}, []int32{40, 1101, 994, 220, 783, 198, 198, 482}},
	{"won't", []string{"won", "'t"}, []int32{26502, 470}},
	// Multi-byte characters: byte-level pieces (a piece may hold part of a
	// character, so it is checked through the whole decode only).
	{"東京 🤗", nil, []int32{30266, 109, 12859, 105, 12520, 97, 245}},
	{"<|endoftext|>Hi[PAD]", []string{"<|endoftext|>", "Hi", "[PAD]"}, []int32{50256, 17250, 50257}},
}

func TestGPT2Parity(t *testing.T) {
	g := NewGPT2()
	for _, c := range gpt2Cases {
		got, err := g.Encode([]byte(c.text))
		if err != nil {
			t.Fatalf("%q: %v", c.text, err)
		}
		if !slices.Equal(got, c.ids) {
			t.Errorf("%q: ids %v, want %v", c.text, got, c.ids)
		}
		for i, p := range c.pieces {
			if s, err := g.Decode(c.ids[i : i+1]); err != nil || s != p {
				t.Errorf("%q: id %d decodes to %q, want %q", c.text, c.ids[i], s, p)
			}
		}
		if s, err := g.Decode(c.ids); err != nil || s != c.text {
			t.Errorf("%q: decodes to %q, %v", c.text, s, err)
		}
	}
}

func TestGPT2Decode(t *testing.T) {
	g := NewGPT2()
	s, err := g.Decode([]int32{GPT2EOT, 15496, GPT2PAD, GPT2MASK})
	if err != nil || s != "<|endoftext|>Hello[PAD][MASK]" {
		t.Errorf("specials: %q, %v", s, err)
	}
	// Half a character (the first byte of 東) decodes to U+FFFD.
	if s, err := g.Decode([]int32{30266}); err != nil || s != "\ufffd" {
		t.Errorf("cut character: %q, %v", s, err)
	}
	if _, err := g.Decode([]int32{1, GPT2VocabSize}); err == nil || !strings.Contains(err.Error(), "position 1") {
		t.Errorf("id out of range: err %v", err)
	}
	if _, err := g.Encode([]byte("ok\xffno")); err == nil || !strings.Contains(err.Error(), "byte 2") {
		t.Errorf("invalid UTF-8: err %v", err)
	}
	sp := g.Special()
	if g.VocabSize() != 50259 || sp.BOS != 50256 || sp.EOS != 50256 || sp.PAD != 50257 || sp.MASK != 50258 || sp.UNK != -1 {
		t.Errorf("vocab %d, special %+v", g.VocabSize(), sp)
	}
}

func TestTokenizerByName(t *testing.T) {
	for name, want := range map[string]string{"dna": vocab.DNATokenizer, "dna-char": vocab.DNATokenizer, "bert-base-uncased": BertTokenizerName, "gpt2": GPT2TokenizerName} {
		tok, err := TokenizerByName(name)
		if err != nil || tok.Name() != want {
			t.Errorf("%s: %v, %v", name, tok, err)
		}
	}
	if _, err := TokenizerByName("gpt-2"); err == nil || !strings.Contains(err.Error(), "gpt2") {
		t.Errorf("unknown name: err %v", err)
	}
}

func BenchmarkGPT2Encode(b *testing.B) {
	g := NewGPT2()
	text := []byte(strings.Repeat("The payments, which began in March 2007 at $2,900 a month, dwindled to less than $800 a month. ", 10))
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		g.Encode(text)
	}
}

func ExampleNewGPT2() {
	g := NewGPT2()
	ids, _ := g.Encode([]byte("Hello world, the quick brown fox."))
	fmt.Println(ids)
	s, _ := g.Decode(append(ids, GPT2EOT))
	fmt.Println(s)
	// Output:
	// [15496 995 11 262 2068 7586 21831 13]
	// Hello world, the quick brown fox.<|endoftext|>
}

// Any valid UTF-8 text: GPT-2 ids decode back to the exact text, and
// bert-base-uncased ids are in its vocabulary; invalid UTF-8 is an error
// for both, never a panic.
func FuzzTextTokenizers(f *testing.F) {
	for _, c := range gpt2Cases {
		f.Add([]byte(c.text))
	}
	for _, c := range bertCases {
		f.Add([]byte(c.text))
	}
	f.Add([]byte("a\xffb"))
	g := NewGPT2()
	w := bert(f)
	f.Fuzz(func(t *testing.T, text []byte) {
		gids, gerr := g.Encode(text)
		bids, berr := w.Encode(text)
		if invalidUTF8(text) >= 0 {
			if gerr == nil || berr == nil {
				t.Fatalf("%q: invalid UTF-8 accepted (%v, %v)", text, gerr, berr)
			}
			return
		}
		if gerr != nil || berr != nil {
			t.Fatalf("%q: %v, %v", text, gerr, berr)
		}
		if s, err := g.Decode(gids); err != nil || s != string(text) {
			t.Fatalf("%q: gpt2 round trip %q, %v", text, s, err)
		}
		for _, id := range bids {
			if id < 0 || id >= BertVocabSize {
				t.Fatalf("%q: bert id %d", text, id)
			}
		}
		if _, err := w.Decode(bids); err != nil {
			t.Fatalf("%q: %v", text, err)
		}
	})
}

// gpt2Pattern is GPT-2's pre-tokenizing pattern. Compiled with Multiline
// (which changes nothing in it: it has no ^ or $) regexp2 runs its
// interpreter rather than tiktoken-go's generated matcher for it, the
// reference for gpt2Pieces.
const gpt2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

func TestGPT2Pieces(t *testing.T) {
	re := regexp2.MustCompile(gpt2Pattern, regexp2.Multiline)
	pieces := func(s string) []string {
		var out []string
		m, err := re.FindStringMatch(s)
		for ; m != nil && err == nil; m, err = re.FindNextMatch(m) {
			out = append(out, m.String())
		}
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	alphabet := []string{"a", "Zé", "東", "7", "²", "Ⅻ", " ", " ", "  ", "\t", "\n", "\u00a0", "\u3000", "'", "'s", "'ll", "'re", "!", "...", "€", "\x7f", "\x00", "-", "'d"}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		var b strings.Builder
		for range 1 + rng.IntN(10) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		s := b.String()
		if got, want := gpt2Pieces(s), pieces(s); !slices.Equal(got, want) {
			t.Fatalf("%q: pieces %q, the pattern gives %q", s, got, want)
		}
	}
}

// DEL (U+007F), which tiktoken-go's generated matcher drops, is id 221
// between the BPE of its neighbours, as in Hugging Face's GPT-2.
func TestGPT2DEL(t *testing.T) {
	g := NewGPT2()
	for _, c := range []struct {
		text string
		ids  []int32
	}{
		{"\x7f", []int32{221}},
		{"a\x7fb", []int32{64, 221, 65}},
		{" \x7f!", []int32{220, 221, 0}},
		{"Hello\x7f world", []int32{15496, 221, 995}},
	} {
		got, err := g.Encode([]byte(c.text))
		if err != nil || !slices.Equal(got, c.ids) {
			t.Errorf("%q: %v, %v; want %v", c.text, got, err, c.ids)
		}
		if s, _ := g.Decode(got); s != c.text {
			t.Errorf("%q: decodes to %q", c.text, s)
		}
	}
}
