package dataprep

import (
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/seqdiff/seqdiff/vocab"
	"github.com/tiktoken-go/tokenizer/codec"
)

// GPT2TokenizerName is the name the GPT-2 BPE tokenizer records in manifests.
const GPT2TokenizerName = "gpt2"

// GPT-2 ids. 50256 is GPT-2's <|endoftext|>, used as BOS and EOS; [PAD]
// and [MASK] are the two ids MDLM appends to GPT-2's vocabulary (its
// tokenizer adds a [PAD] token, and the diffusion model a mask index at the
// end of the vocabulary), so that the vocabulary is 50259.
const (
	GPT2EOT  = 50256
	GPT2PAD  = 50257
	GPT2MASK = 50258

	// GPT2VocabSize counts GPT-2's 50257 tokens and [PAD] and [MASK].
	GPT2VocabSize = 50259
)

const gpt2EOTName = "<|endoftext|>"

// GPT2 is GPT-2's byte-level BPE (tiktoken's r50k_base, the same ranks and
// pre-tokenizing pattern as Hugging Face's gpt2 tokenizer). Encode adds no
// special token of its own; "<|endoftext|>" and "[PAD]" in the text read as
// their ids, as in the Hugging Face tokenizer MDLM builds. Decode turns byte
// sequences that are not UTF-8 (a character cut between ids) into U+FFFD.
type GPT2 struct {
	c *codec.Codec
}

var _ Tokenizer = (*GPT2)(nil)

var gpt2Once = sync.OnceValue(func() *GPT2 {
	c := codec.NewR50kBase()
	c.SetErrorMode(codec.ErrorModeReplace)
	return &GPT2{c: c}
})

// NewGPT2 returns the GPT-2 tokenizer; its ranks are compiled into the
// binary (github.com/tiktoken-go/tokenizer).
func NewGPT2() *GPT2 { return gpt2Once() }

// Name returns "gpt2".
func (g *GPT2) Name() string { return GPT2TokenizerName }

// VocabSize returns 50259.
func (g *GPT2) VocabSize() int { return GPT2VocabSize }

// Special returns <|endoftext|> as BOS and EOS, [PAD] 50257 and [MASK]
// 50258; GPT-2 has no CLS, SEP or UNK (byte-level BPE encodes anything).
func (g *GPT2) Special() Special {
	return Special{CLS: -1, SEP: -1, BOS: GPT2EOT, EOS: GPT2EOT, MASK: GPT2MASK, PAD: GPT2PAD, UNK: -1}
}

// Encode tokenizes text; invalid UTF-8 is an error naming its byte offset.
func (g *GPT2) Encode(text []byte) ([]int32, error) {
	if off := invalidUTF8(text); off >= 0 {
		return nil, fmt.Errorf("%s tokenizer: byte %d: invalid UTF-8", GPT2TokenizerName, off)
	}
	var ids []int32
	s := string(text)
	for len(s) > 0 {
		cut, name, id := len(s), "", int32(0)
		for _, sp := range [...]struct {
			name string
			id   int32
		}{{gpt2EOTName, GPT2EOT}, {"[PAD]", GPT2PAD}} {
			if i := strings.Index(s, sp.name); i >= 0 && i < cut {
				cut, name, id = i, sp.name, sp.id
			}
		}
		if cut > 0 {
			var err error
			if ids, err = g.encodeOrdinary(ids, s[:cut]); err != nil {
				return nil, fmt.Errorf("%s tokenizer: %w", GPT2TokenizerName, err)
			}
		}
		if name == "" {
			break
		}
		ids = append(ids, id)
		s = s[cut+len(name):]
	}
	return ids, nil
}

// gpt2DEL is the id of byte 0x7f, the one byte that no other GPT-2 token
// contains.
const gpt2DEL = 221

// encodeOrdinary appends the BPE ids of text without special tokens.
// tiktoken-go's generated pre-tokenizing pattern leaves out U+007F (DEL)
// from the class [^\s\p{L}\p{N}], so the codec drops it; text with a DEL
// is cut into pieces here instead (gpt2Pieces), and since no merge crosses
// byte 0x7f, each DEL is id 221 between the BPE of its neighbours.
func (g *GPT2) encodeOrdinary(ids []int32, text string) ([]int32, error) {
	pieces := []string{text}
	if strings.IndexByte(text, 0x7f) >= 0 {
		pieces = gpt2Pieces(text)
	}
	for _, p := range pieces {
		for k, part := range strings.Split(p, "\x7f") {
			if k > 0 {
				ids = append(ids, gpt2DEL)
			}
			if part == "" {
				continue
			}
			got, _, err := g.c.Encode(part)
			if err != nil {
				return nil, err
			}
			for _, v := range got {
				ids = append(ids, int32(v))
			}
		}
	}
	return ids, nil
}

// gpt2Pieces cuts text as GPT-2's pre-tokenizing pattern does:
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (the first alternative that matches at each position wins).
func gpt2Pieces(text string) []string {
	var pieces []string
	runeAt := func(i int) (rune, int) {
		if i >= len(text) {
			return -1, 0
		}
		return utf8.DecodeRuneInString(text[i:])
	}
	class := func(r rune) int { // 1 letter, 2 number, 3 space, 4 other
		switch {
		case unicode.IsLetter(r):
			return 1
		case unicode.IsNumber(r):
			return 2
		case unicode.IsSpace(r):
			return 3
		}
		return 4
	}
	// run returns the end of the run of class c from i.
	run := func(i, c int) int {
		for {
			r, n := runeAt(i)
			if n == 0 || class(r) != c {
				return i
			}
			i += n
		}
	}
	for i := 0; i < len(text); {
		if text[i] == '\'' {
			matched := false
			for _, suf := range [...]string{"s", "t", "re", "ve", "m", "ll", "d"} {
				if strings.HasPrefix(text[i+1:], suf) {
					pieces = append(pieces, text[i:i+1+len(suf)])
					i += 1 + len(suf)
					matched = true
					break
				}
			}
			if matched {
				continue
			}
		}
		r, n := runeAt(i)
		start := i
		if r == ' ' {
			if r2, n2 := runeAt(i + 1); n2 > 0 && class(r2) != 3 {
				r, n = r2, n2
				i++ // the optional space joins the run after it
			}
		}
		if c := class(r); c != 3 {
			end := run(i+n, c)
			pieces = append(pieces, text[start:end])
			i = end
			continue
		}
		// Whitespace: the run, less its last character when a non-space
		// follows it (\s+(?!\S)), unless that leaves nothing (\s+).
		end := run(i, 3)
		if end < len(text) {
			_, last := utf8.DecodeLastRuneInString(text[i:end])
			if end-last > i {
				end -= last
			}
		}
		pieces = append(pieces, text[i:end])
		i = end
	}
	return pieces
}

// Decode turns ids into text: BPE bytes, "<|endoftext|>", "[PAD]" and
// "[MASK]".
func (g *GPT2) Decode(ids []int32) (string, error) {
	var b strings.Builder
	run := make([]uint, 0, len(ids))
	flush := func() error {
		if len(run) == 0 {
			return nil
		}
		s, err := g.c.Decode(run)
		if err != nil {
			return fmt.Errorf("%s tokenizer: %w", GPT2TokenizerName, err)
		}
		b.WriteString(s)
		run = run[:0]
		return nil
	}
	for i, id := range ids {
		var name string
		switch {
		case id < 0 || id >= GPT2VocabSize:
			return "", fmt.Errorf("%s tokenizer: position %d: id %d outside the vocabulary of %d", GPT2TokenizerName, i, id, GPT2VocabSize)
		case id == GPT2EOT:
			name = gpt2EOTName
		case id == GPT2PAD:
			name = "[PAD]"
		case id == GPT2MASK:
			name = "[MASK]"
		default:
			run = append(run, uint(id))
			continue
		}
		if err := flush(); err != nil {
			return "", err
		}
		b.WriteString(name)
	}
	if err := flush(); err != nil {
		return "", err
	}
	return b.String(), nil
}

// TokenizerNames lists the names TokenizerByName knows.
var TokenizerNames = []string{"dna", BertTokenizerName, GPT2TokenizerName}

// TokenizerByName returns the tokenizer called name: "dna" (or "dna-char"),
// "bert-base-uncased" or "gpt2".
func TokenizerByName(name string) (Tokenizer, error) {
	switch name {
	case "dna", vocab.DNATokenizer:
		return DNA{}, nil
	case BertTokenizerName:
		return BertBaseUncased()
	case GPT2TokenizerName:
		return NewGPT2(), nil
	}
	return nil, fmt.Errorf("unknown tokenizer %q (want %s)", name, strings.Join(TokenizerNames, ", "))
}
