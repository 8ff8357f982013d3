package dataprep

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// BertTokenizerName is the name the bert-base-uncased WordPiece tokenizer
// records in manifests.
const BertTokenizerName = "bert-base-uncased"

// bert-base-uncased special ids (line numbers of wordpiece/…-vocab.txt).
const (
	BertPAD  = 0
	BertUNK  = 100
	BertCLS  = 101
	BertSEP  = 102
	BertMASK = 103

	// BertVocabSize is the number of bert-base-uncased token ids.
	BertVocabSize = 30522
)

// bertMaxWordChars is the longest word (in characters) WordPiece splits;
// a longer one is [UNK] (Hugging Face's max_input_chars_per_word).
const bertMaxWordChars = 100

//go:embed wordpiece/bert-base-uncased-vocab.txt
var bertVocabFile string

// WordPiece is the bert-base-uncased tokenizer of Hugging Face's
// BertTokenizer (the Python one that MDLM's LM1B runs use): a basic
// tokenizer (clean the text, split CJK ideographs, lower-case, strip
// accents, split on whitespace and punctuation) and then greedy
// longest-match-first WordPiece with "##" continuations.
//
// Encode returns the word-piece ids alone, without [CLS] and [SEP]; the
// special token names ([CLS], [SEP], [PAD], [MASK], [UNK]) in the text read
// as their ids, as Hugging Face does. Decode joins tokens with spaces and
// glues "##" pieces to the token before them.
type WordPiece struct {
	tokens  []string
	initial map[string]int32 // word-initial pieces
	cont    map[string]int32 // "##" pieces, keyed without "##"
	maxLen  int              // longest piece in bytes
}

var _ Tokenizer = (*WordPiece)(nil)

var bertOnce = sync.OnceValues(func() (*WordPiece, error) { return newWordPiece(bertVocabFile) })

// BertBaseUncased returns the bert-base-uncased tokenizer; its vocabulary is
// embedded (see dataprep/wordpiece/README.md) and parsed on first use.
func BertBaseUncased() (*WordPiece, error) { return bertOnce() }

func newWordPiece(vocab string) (*WordPiece, error) {
	w := &WordPiece{initial: map[string]int32{}, cont: map[string]int32{}}
	for i, line := range strings.Split(strings.TrimSuffix(vocab, "\n"), "\n") {
		tok := strings.TrimSuffix(line, "\r")
		if tok == "" {
			return nil, fmt.Errorf("wordpiece vocab line %d: empty token", i+1)
		}
		id := int32(i)
		if rest, ok := strings.CutPrefix(tok, "##"); ok && rest != "" {
			w.cont[rest] = id
		} else {
			w.initial[tok] = id
		}
		w.tokens = append(w.tokens, tok)
		w.maxLen = max(w.maxLen, len(tok))
	}
	return w, nil
}

// Name returns "bert-base-uncased".
func (w *WordPiece) Name() string { return BertTokenizerName }

// VocabSize returns 30522.
func (w *WordPiece) VocabSize() int { return len(w.tokens) }

// Special returns [CLS] 101 and [SEP] 102, which are also the BOS and EOS of
// a sentence, [MASK] 103, [PAD] 0 and [UNK] 100.
func (w *WordPiece) Special() Special {
	return Special{CLS: BertCLS, SEP: BertSEP, BOS: BertCLS, EOS: BertSEP, MASK: BertMASK, PAD: BertPAD, UNK: BertUNK}
}

var bertSpecialNames = []string{"[CLS]", "[SEP]", "[PAD]", "[MASK]", "[UNK]"}

// Encode tokenizes text; invalid UTF-8 is an error naming its byte offset.
func (w *WordPiece) Encode(text []byte) ([]int32, error) {
	if off := invalidUTF8(text); off >= 0 {
		return nil, fmt.Errorf("%s tokenizer: byte %d: invalid UTF-8", BertTokenizerName, off)
	}
	var ids []int32
	var words []string
	s := string(text)
	for len(s) > 0 {
		// Special token names are cut out first and kept whole.
		cut, name := len(s), ""
		if strings.IndexByte(s, '[') >= 0 {
			for _, n := range bertSpecialNames {
				if i := strings.Index(s, n); i >= 0 && i < cut {
					cut, name = i, n
				}
			}
		}
		words = basicTokenize(s[:cut], words[:0])
		for _, word := range words {
			ids = w.appendWord(ids, word)
		}
		if name == "" {
			break
		}
		ids = append(ids, w.initial[name])
		s = s[cut+len(name):]
	}
	return ids, nil
}

// appendWord appends the WordPiece ids of one basic token.
func (w *WordPiece) appendWord(ids []int32, word string) []int32 {
	if utf8.RuneCountInString(word) > bertMaxWordChars {
		return append(ids, BertUNK)
	}
	n0 := len(ids)
	for start := 0; start < len(word); {
		table := w.initial
		if start > 0 {
			table = w.cont
		}
		end := min(len(word), start+w.maxLen)
		for end < len(word) && !utf8.RuneStart(word[end]) {
			end-- // cut at a character boundary
		}
		found := false
		for end > start {
			if id, ok := table[word[start:end]]; ok {
				ids = append(ids, id)
				found = true
				break
			}
			_, size := utf8.DecodeLastRuneInString(word[start:end])
			end -= size
		}
		if !found {
			// One piece that does not match makes the whole word [UNK].
			return append(ids[:n0], BertUNK)
		}
		start = end
	}
	return ids
}

// Decode joins the tokens of ids with spaces and glues each "##" piece to
// the token before it (Hugging Face's convert_tokens_to_string).
func (w *WordPiece) Decode(ids []int32) (string, error) {
	var b strings.Builder
	for i, id := range ids {
		if id < 0 || int(id) >= len(w.tokens) {
			return "", fmt.Errorf("%s tokenizer: position %d: id %d outside the vocabulary of %d", BertTokenizerName, i, id, len(w.tokens))
		}
		tok := w.tokens[id]
		if rest, ok := strings.CutPrefix(tok, "##"); ok && rest != "" {
			b.WriteString(rest)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(tok)
	}
	return b.String(), nil
}

// basicTokenize appends to dst the basic tokens of text as Hugging Face's
// BasicTokenizer (do_lower_case, strip_accents, tokenize_chinese_chars)
// makes them: NUL, U+FFFD and control characters (category C* other than
// \t \n \r) are dropped, whitespace becomes a space, CJK ideographs become
// words of their own, each whitespace-separated word is lower-cased
// (Python's str.lower, final sigma included), decomposed (NFD) with its
// nonspacing marks (Mn) dropped, and split around each punctuation
// character (ASCII 33-47, 58-64, 91-96, 123-126 and Unicode P*).
func basicTokenize(text string, dst []string) []string {
	if isPlainASCII(text) {
		return basicASCII(text, dst)
	}
	var b strings.Builder
	b.Grow(len(text))
	for _, r := range text {
		switch {
		case r == 0 || r == utf8.RuneError || isBertControl(r):
		case isBertSpace(r):
			b.WriteByte(' ')
		case isCJK(r):
			b.WriteByte(' ')
			b.WriteRune(r)
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	for _, word := range strings.Fields(b.String()) {
		word = norm.NFD.String(pyLower(word))
		word = strings.Map(func(r rune) rune {
			if unicode.Is(unicode.Mn, r) {
				return -1
			}
			return r
		}, word)
		dst = splitPunct(word, dst)
	}
	return dst
}

// isPlainASCII reports whether text is printable ASCII and ASCII whitespace
// only, for which the basic tokenizer reduces to lower-casing and splitting.
func isPlainASCII(text string) bool {
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c >= 0x7f || c < ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

func basicASCII(text string, dst []string) []string {
	start := -1
	lower := false
	flush := func(end int) {
		if start >= 0 {
			w := text[start:end]
			if lower {
				w = strings.ToLower(w)
			}
			dst = append(dst, w)
			start, lower = -1, false
		}
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			flush(i)
		case isASCIIPunct(c):
			flush(i)
			dst = append(dst, text[i:i+1])
		default:
			if start < 0 {
				start = i
			}
			lower = lower || 'A' <= c && c <= 'Z'
		}
	}
	flush(len(text))
	return dst
}

func isASCIIPunct(c byte) bool {
	return c >= 33 && c <= 47 || c >= 58 && c <= 64 || c >= 91 && c <= 96 || c >= 123 && c <= 126
}

// splitPunct appends the pieces of word cut around each punctuation
// character (which becomes a piece of its own).
func splitPunct(word string, dst []string) []string {
	start := 0
	for i, r := range word {
		if r < utf8.RuneSelf && isASCIIPunct(byte(r)) || r >= utf8.RuneSelf && unicode.IsPunct(r) {
			if start < i {
				dst = append(dst, word[start:i])
			}
			size := utf8.RuneLen(r)
			dst = append(dst, word[i:i+size])
			start = i + size
		}
	}
	if start < len(word) {
		dst = append(dst, word[start:])
	}
	return dst
}

// isBertSpace is BertTokenizer's _is_whitespace: space, \t, \n, \r and
// Unicode Zs.
func isBertSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || unicode.Is(unicode.Zs, r)
}

// isBertControl is BertTokenizer's _is_control: category C* (Cc, Cf, Co,
// Cs and unassigned Cn) other than \t, \n and \r.
func isBertControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	return unicode.Is(unicode.C, r) // Go's C includes the unassigned code points
}

// isCJK reports a CJK Unified Ideograph (the blocks BertTokenizer lists;
// Hangul, Hiragana and Katakana are not among them).
func isCJK(r rune) bool {
	return r >= 0x4E00 && r <= 0x9FFF ||
		r >= 0x3400 && r <= 0x4DBF ||
		r >= 0x20000 && r <= 0x2A6DF ||
		r >= 0x2A700 && r <= 0x2B73F ||
		r >= 0x2B740 && r <= 0x2B81F ||
		r >= 0x2B820 && r <= 0x2CEAF ||
		r >= 0xF900 && r <= 0xFAFF ||
		r >= 0x2F800 && r <= 0x2FA1F
}

// pyLower is Python's str.lower: the simple lower-case mapping except for
// U+0130 (İ -> "i̇") and a capital sigma in final position (-> ς).
func pyLower(s string) string {
	rs := []rune(s)
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range rs {
		switch r {
		case 0x130:
			b.WriteString("i\u0307")
		case 0x3A3:
			if finalSigma(rs, i) {
				b.WriteRune(0x3C2)
			} else {
				b.WriteRune(0x3C3)
			}
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// finalSigma is Unicode's Final_Sigma condition for rs[i]: a cased letter
// before it and none after it, skipping case-ignorable characters.
func finalSigma(rs []rune, i int) bool {
	j := i - 1
	for j >= 0 && caseIgnorable(rs[j]) {
		j--
	}
	if j < 0 || !cased(rs[j]) {
		return false
	}
	j = i + 1
	for j < len(rs) && caseIgnorable(rs[j]) {
		j++
	}
	return j == len(rs) || !cased(rs[j])
}

func cased(r rune) bool {
	return unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r) ||
		unicode.In(r, unicode.Other_Lowercase, unicode.Other_Uppercase)
}

func caseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', '^', '`', 0xB7, 0x387, 0x5F4, 0x2018, 0x2019, 0x2024, 0x2027, 0xFE13, 0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A:
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}

// invalidUTF8 returns the byte offset of the first invalid UTF-8 sequence
// in b, or -1.
func invalidUTF8(b []byte) int {
	if utf8.Valid(b) {
		return -1
	}
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}
