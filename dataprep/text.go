package dataprep

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text corpus styles.
const (
	// StyleLM1B: one sentence a line; each sentence is one row,
	// [BOS] sentence [EOS] padded with [PAD] (or cut) to SeqLen.
	StyleLM1B = "lm1b"
	// StyleOWT: whole documents, each followed by [EOS], concatenated and
	// wrapped into rows of [BOS] + SeqLen-2 tokens + [EOS].
	StyleOWT = "owt"
)

// Text corpus input formats (TextInfo.Format).
const (
	FormatLines      = "lines"       // lm1b: one sentence a line
	FormatTxtDir     = "txt-dir"     // owt: a folder, each .txt file a document (.jsonl files: a document a line)
	FormatJSONL      = "jsonl"       // owt: a JSON object a line, its "text" field the document
	FormatBlankLines = "blank-lines" // owt: documents separated by blank lines
)

// textSplitDoc is recorded in the manifest: how a document finds its split.
const textSplitDoc = `murmur3_fmix64(fnv1a64(uint64le(split_seed) + document_bytes)) % 20: 0 valid, 1 test, else train (documents: lm1b sentences after detokenizing, owt documents as read); identical documents share a split`

// TextSplit returns the split of a document (an LM1B sentence or an OWT
// document) from its bytes: h = fmix64(FNV-1a-64(8 little-endian bytes of
// seed, then the document)); h%20 == 0 is valid, 1 is test, the rest train
// (90/5/5). Hashing the content rather than the position keeps a split
// fixed when documents are added or reordered, and puts duplicates in one
// split.
func TextSplit(seed uint64, doc []byte) Split {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	h.Write(b[:])
	h.Write(doc)
	switch fmix64(h.Sum64()) % 20 {
	case 0:
		return Valid
	case 1:
		return Test
	}
	return Train
}

// textDoc is one document of a corpus and where it starts.
type textDoc struct {
	file string
	line int // 1-based line of its first byte
	text []byte
}

// corpusStats counts what reading a corpus found.
type corpusStats struct {
	files, docs, empty int64
	bytes              int64
	format             string
}

// errStop ends a corpus walk early without an error.
var errStop = errors.New("stop")

// corpusFiles lists the input files of path in the order they are read: the
// file itself, or the regular files under a folder (recursively, sorted by
// path, hidden ones skipped); in owt style only .txt and .jsonl files of a
// folder are read.
func corpusFiles(path, style string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != path && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if style == StyleOWT && !strings.HasSuffix(p, ".txt") && !strings.HasSuffix(p, ".jsonl") {
			return nil
		}
		files = append(files, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	if len(files) == 0 {
		if style == StyleOWT {
			return nil, fmt.Errorf("%s: no .txt or .jsonl file in the folder", path)
		}
		return nil, fmt.Errorf("%s: no file in the folder", path)
	}
	return files, nil
}

// readCorpus calls fn with each non-empty document of the files in order.
// Documents that are empty or all whitespace are skipped and counted;
// invalid UTF-8 is an error naming the file, line and byte.
func readCorpus(files []string, style string, isDir bool, fn func(textDoc) error) (corpusStats, error) {
	var st corpusStats
	for _, path := range files {
		format := FormatLines
		if style == StyleOWT {
			switch {
			case strings.HasSuffix(path, ".jsonl"):
				format = FormatJSONL
			case isDir:
				format = FormatTxtDir
			default:
				format = FormatBlankLines
			}
		}
		if st.format == "" || isDir && format == FormatTxtDir {
			st.format = format
		}
		st.files++
		n, err := readCorpusFile(path, format, &st, fn)
		st.bytes += n
		if err != nil {
			return st, err
		}
	}
	return st, nil
}

func readCorpusFile(path, format string, st *corpusStats, fn func(textDoc) error) (int64, error) {
	if format == FormatTxtDir {
		if fi, err := os.Stat(path); err == nil && fi.Size() > MaxDocBytes {
			return 0, tooLong(path, 1, "document")
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return 0, err
		}
		if off := invalidUTF8(b); off >= 0 {
			line := 1 + bytes.Count(b[:off], []byte{'\n'})
			return int64(len(b)), fmt.Errorf("%s:%d: byte %d of the file: invalid UTF-8", path, line, off)
		}
		return int64(len(b)), emit(st, fn, textDoc{file: path, line: 1, text: bytes.TrimSpace(b)})
	}

	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var (
		nbytes  int64
		lineNo  int
		para    []byte // blank-lines format: the document being gathered
		paraAt  int
		lineBuf []byte
	)
	for {
		line, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			lineBuf = append(lineBuf[:0], line...)
			for err == bufio.ErrBufferFull {
				line, err = r.ReadSlice('\n')
				lineBuf = append(lineBuf, line...)
				if len(lineBuf) > MaxDocBytes {
					return nbytes, tooLong(path, lineNo+1, "line")
				}
			}
			line = lineBuf
		}
		if err != nil && err != io.EOF {
			return nbytes, fmt.Errorf("%s: %w", path, err)
		}
		if len(line) == 0 && err == io.EOF {
			break
		}
		lineNo++
		nbytes += int64(len(line))
		if off := invalidUTF8(line); off >= 0 {
			return nbytes, fmt.Errorf("%s:%d: byte %d of the line: invalid UTF-8", path, lineNo, off)
		}
		text := bytes.TrimRight(line, "\r\n")
		switch format {
		case FormatLines:
			if e := emit(st, fn, textDoc{file: path, line: lineNo, text: text}); e != nil {
				return nbytes, e
			}
		case FormatJSONL:
			if len(bytes.TrimSpace(text)) == 0 {
				break // a blank line between records
			}
			var rec struct {
				Text *string `json:"text"`
			}
			if e := json.Unmarshal(text, &rec); e != nil {
				return nbytes, fmt.Errorf("%s:%d: %w", path, lineNo, e)
			}
			if rec.Text == nil {
				return nbytes, fmt.Errorf(`%s:%d: no string "text" field`, path, lineNo)
			}
			if e := emit(st, fn, textDoc{file: path, line: lineNo, text: []byte(*rec.Text)}); e != nil {
				return nbytes, e
			}
		case FormatBlankLines:
			if len(bytes.TrimSpace(text)) == 0 {
				if para != nil {
					if e := emit(st, fn, textDoc{file: path, line: paraAt, text: para}); e != nil {
						return nbytes, e
					}
					para = nil
				}
				break
			}
			if para == nil {
				paraAt = lineNo
				para = append([]byte(nil), text...)
			} else {
				para = append(append(para, '\n'), text...)
			}
			if len(para) > MaxDocBytes {
				return nbytes, tooLong(path, paraAt, "document")
			}
		}
		if err == io.EOF {
			break
		}
	}
	if para != nil {
		if e := emit(st, fn, textDoc{file: path, line: paraAt, text: para}); e != nil {
			return nbytes, e
		}
	}
	return nbytes, nil
}

// MaxDocBytes bounds one line, and one document, of a text corpus (16 MiB):
// tokenizing holds a few dozen bytes per input byte, so an unbounded line
// (a corpus without newlines) would take memory in proportion to the file.
const MaxDocBytes = 16 << 20

func tooLong(path string, line int, what string) error {
	return fmt.Errorf("%s:%d: %s longer than %d MiB; text prep reads a sentence a line (lm1b) or documents of at most that size (owt): split the input",
		path, line, what, MaxDocBytes>>20)
}

// emit passes on a copy of a document with its surrounding whitespace
// trimmed, or counts it as empty.
func emit(st *corpusStats, fn func(textDoc) error, d textDoc) error {
	t := bytes.TrimSpace(d.text)
	if len(t) == 0 {
		st.empty++
		return nil
	}
	d.text = append([]byte(nil), t...)
	st.docs++
	return fn(d)
}

// Detokenizers (TextOptions.Detok).
const (
	DetokNone = "none"
	DetokLM1B = "lm1b"
)

// DetokenizeLM1B applies MDLM's lm1b_detokenizer (dataloader.py) to one
// sentence, undoing the LM1B corpus's tokenization ("won 't" -> "won't",
// " , " -> ", ") before the sentence is tokenized again. Its regular
// expressions are written out as scans (Go's regexp took most of the prep
// time); Python's \w, Unicode-aware, reads as letter, number or '_'.
// TestDetokenizeLM1BRegexp checks it against the regular expressions.
func DetokenizeLM1B(s string) string {
	s = strings.ReplaceAll(s, "http : / / ", "http://")
	s = strings.ReplaceAll(s, "https : / / ", "https://")
	s = detokApostrophe(s)   // ' \'(\w+)' -> "'\1"
	s = detokWordDot(s)      // ' (\w+) \. ' -> ' \1. '
	s = detokFinalWordDot(s) // ' (\w+) \.$' -> ' \1.'
	s = strings.ReplaceAll(s, " ? ", "? ")
	if t, ok := strings.CutSuffix(s, " ?"); ok {
		s = t + "?"
	}
	s = strings.ReplaceAll(s, " ! ", "! ")
	if t, ok := strings.CutSuffix(s, " !"); ok {
		s = t + "!"
	}
	s = strings.ReplaceAll(s, " , ", ", ")
	s = strings.ReplaceAll(s, " : ", ": ")
	s = strings.ReplaceAll(s, " ; ", "; ")
	s = strings.ReplaceAll(s, " / ", "/")
	s = detokPair(s, '"', '"')   // '\" ([^\"]+) \"' -> '"\1"'
	s = detokPair(s, '\'', '\'') // "' ([^']+) '" -> "'\1'"
	s = detokPair(s, '(', ')')   // '\( ([^\(\)]+) \)' -> '(\1)'
	s = detokPair(s, '[', ']')   // '\[ ([^\[\]]+) \]' -> '[\1]'
	s = strings.ReplaceAll(s, "$ ", "$")
	s = strings.ReplaceAll(s, "£ ", "£")
	return s
}

func isWordRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) }

// wordEnd returns the end of the run of word characters starting at i.
func wordEnd(s string, i int) int {
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isWordRune(r) {
			break
		}
		i += n
	}
	return i
}

// detokApostrophe drops the space of " '" before a word character.
func detokApostrophe(s string) string {
	if !strings.Contains(s, " '") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == ' ' && i+1 < len(s) && s[i+1] == '\'' {
			if j := wordEnd(s, i+2); j > i+2 {
				b.WriteString(s[i+1 : j])
				i = j
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// detokWordDot turns " word . " into " word. ", scanning left to right
// without overlap, as re.sub does.
func detokWordDot(s string) string {
	if !strings.Contains(s, " . ") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == ' ' {
			if j := wordEnd(s, i+1); j > i+1 && strings.HasPrefix(s[j:], " . ") {
				b.WriteString(s[i:j])
				b.WriteString(". ")
				i = j + 3
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// detokFinalWordDot turns a final " word ." into " word.".
func detokFinalWordDot(s string) string {
	t, ok := strings.CutSuffix(s, " .")
	if !ok {
		return s
	}
	i := len(t)
	for i > 0 {
		r, n := utf8.DecodeLastRuneInString(t[:i])
		if !isWordRune(r) {
			break
		}
		i -= n
	}
	if i == len(t) || i == 0 || t[i-1] != ' ' {
		return s
	}
	return t + "."
}

// detokPair turns "open X close" with spaces inside into "openXclose":
// open, a space, one or more characters that are neither open nor close,
// a space, close.
func detokPair(s string, open, close byte) string {
	if strings.IndexByte(s, open) < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == open && i+1 < len(s) && s[i+1] == ' ' {
			k := i + 2
			for k < len(s) && s[k] != open && s[k] != close {
				k++
			}
			// s[i+2:k] is "X " with X not empty, and s[k] closes.
			if k < len(s) && s[k] == close && k-1 > i+2 && s[k-1] == ' ' {
				b.WriteByte(open)
				b.WriteString(s[i+2 : k-1])
				b.WriteByte(close)
				i = k + 1
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}
