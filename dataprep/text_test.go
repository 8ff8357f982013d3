package dataprep

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestTextSplit(t *testing.T) {
	var n [numSplits]int
	for i := range 20000 {
		n[TextSplit(0, fmt.Appendf(nil, "sentence %d .", i))]++
	}
	// 90/5/5 within a few standard deviations (sd of 1000 is about 31).
	if n[Valid] < 880 || n[Valid] > 1120 || n[Test] < 880 || n[Test] > 1120 {
		t.Errorf("split counts %v", n)
	}
	doc := []byte("The same document.")
	if TextSplit(7, doc) != TextSplit(7, slices.Clone(doc)) {
		t.Error("split depends on more than seed and bytes")
	}
	differ := false
	for i := range 64 {
		d := fmt.Appendf(nil, "doc %d", i)
		differ = differ || TextSplit(0, d) != TextSplit(1, d)
	}
	if !differ {
		t.Error("the seed changes no split of 64 documents")
	}
}

func TestDetokenizeLM1B(t *testing.T) {
	for in, want := range map[string]string{
		`But now , it 's looking like the page that list Reps who won 't talk .`: `But now, it's looking like the page that list Reps who won't talk.`,
		`He said : " I am here ! " ( really ) ?`:                                 `He said: "I am here!" (really)?`,
		`See http : / / example.com for $ 5 .`:                                   `See http://example.com for $5.`,
	} {
		if got := DetokenizeLM1B(in); got != want {
			t.Errorf("DetokenizeLM1B(%q)\n = %q\nwant %q", in, got, want)
		}
	}
}

// lm1bDetokRegexp is MDLM's lm1b_detokenizer as regular expressions, the
// reference for DetokenizeLM1B's scans.
func lm1bDetokRegexp(s string) string {
	for _, r := range lm1bDetokRules {
		s = r.re.ReplaceAllString(s, r.repl)
	}
	return s
}

var lm1bDetokRules = func() (rules []struct {
	re   *regexp.Regexp
	repl string
}) {
	for _, r := range []struct{ re, repl string }{
		{`http : / / `, "http://"},
		{`https : / / `, "https://"},
		{` '([\p{L}\p{N}_]+)`, "'$1"},
		{` ([\p{L}\p{N}_]+) \. `, " $1. "},
		{` ([\p{L}\p{N}_]+) \.$`, " $1."},
		{` \? `, "? "},
		{` \?$`, "?"},
		{` ! `, "! "},
		{` !$`, "!"},
		{` , `, ", "},
		{` : `, ": "},
		{` ; `, "; "},
		{` / `, "/"},
		{`" ([^"]+) "`, `"$1"`},
		{`' ([^']+) '`, "'$1'"},
		{`\( ([^()]+) \)`, "($1)"},
		{`\[ ([^\[\]]+) \]`, "[$1]"},
		{`\$ `, "$$"},
		{`£ `, "£"},
	} {
		rules = append(rules, struct {
			re   *regexp.Regexp
			repl string
		}{regexp.MustCompile(r.re), r.repl})
	}
	return rules
}()

func TestDetokenizeLM1BRegexp(t *testing.T) {
	var lines []string
	pieces := []string{"a", "bé", "_x1", "'", "\"", "(", ")", "[", "]", ".", "?", "!", ",", "$", "£", "-", "http", ":", "/", "2,900"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		for k := range 1 + rng.IntN(12) {
			if k > 0 && rng.IntN(5) > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		lines = append(lines, b.String())
	}
	if data, err := os.ReadFile(filepath.Join(sharedDataOrEmpty(), "text", "lm1b", "dev.tokens")); err == nil {
		lines = append(lines, strings.Split(string(data), "\n")...)
	}
	bad := 0
	for _, l := range lines {
		if got, want := DetokenizeLM1B(l), lm1bDetokRegexp(l); got != want && bad < 5 {
			bad++
			t.Errorf("%q:\n scan   %q\n regexp %q", l, got, want)
		}
	}
}

// sharedDataOrEmpty is ../shared/data beside the module root, or "".
func sharedDataOrEmpty() string {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "data")
		}
		up := filepath.Dir(dir)
		if up == dir {
			return ""
		}
		dir = up
	}
}

// writeFile writes s to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, s string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readAllDocs(t *testing.T, path, style string) ([]string, corpusStats) {
	t.Helper()
	files, err := corpusFiles(path, style)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	var docs []string
	st, err := readCorpus(files, style, fi.IsDir(), func(d textDoc) error {
		docs = append(docs, fmt.Sprintf("%s:%d:%s", filepath.Base(d.file), d.line, d.text))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return docs, st
}

func TestReadCorpusFormats(t *testing.T) {
	dir := t.TempDir()
	lines := writeFile(t, dir, "s.tokens", "one .\r\n\n  \ntwo\nthree")
	docs, st := readAllDocs(t, lines, StyleLM1B)
	if want := []string{"s.tokens:1:one .", "s.tokens:4:two", "s.tokens:5:three"}; !slices.Equal(docs, want) || st.empty != 2 || st.format != FormatLines {
		t.Errorf("lines: %q, %+v", docs, st)
	}

	blank := writeFile(t, dir, "docs.txt", "First doc\nline two\n\n\n  \nSecond doc\n\nThird\n")
	docs, st = readAllDocs(t, blank, StyleOWT)
	if want := []string{"docs.txt:1:First doc\nline two", "docs.txt:6:Second doc", "docs.txt:8:Third"}; !slices.Equal(docs, want) || st.format != FormatBlankLines {
		t.Errorf("blank lines: %q, %+v", docs, st)
	}

	jl := writeFile(t, dir, "c.jsonl", `{"text": "Doc \u00e9 one\nmore", "id": 1}`+"\n\n"+`{"text": "   "}`+"\n"+`{"text":"two"}`)
	docs, st = readAllDocs(t, jl, StyleOWT)
	if want := []string{"c.jsonl:1:Doc é one\nmore", "c.jsonl:4:two"}; !slices.Equal(docs, want) || st.empty != 1 || st.format != FormatJSONL {
		t.Errorf("jsonl: %q, %+v", docs, st)
	}

	tree := filepath.Join(dir, "tree")
	writeFile(t, tree, "b.txt", "  Bee.\n")
	writeFile(t, tree, "a/x.txt", "Ex.")
	writeFile(t, tree, "a/skip.md", "not read")
	writeFile(t, tree, ".hidden.txt", "not read")
	writeFile(t, tree, "empty.txt", "\n\n")
	docs, st = readAllDocs(t, tree, StyleOWT)
	if want := []string{"x.txt:1:Ex.", "b.txt:1:Bee."}; !slices.Equal(docs, want) || st.files != 3 || st.empty != 1 || st.format != FormatTxtDir {
		t.Errorf("folder: %q, %+v", docs, st)
	}
}

func TestReadCorpusBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, content, style, msg string
	}{
		{"bad.tokens", "fine\nalso fine\nbad \xff here\n", StyleLM1B, "bad.tokens:3: byte 4 of the line: invalid UTF-8"},
		{"bad.txt", "ok\n\ncaf\xc3", StyleOWT, "bad.txt:3: byte 3 of the line: invalid UTF-8"},
		{"bad.jsonl", `{"text": "a"}` + "\n" + `{"body": "b"}`, StyleOWT, `bad.jsonl:2: no string "text" field`},
		{"bad2.jsonl", `{"text": "a"`, StyleOWT, "bad2.jsonl:1:"},
	} {
		p := writeFile(t, dir, c.name, c.content)
		_, err := readCorpus([]string{p}, c.style, false, func(textDoc) error { return nil })
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: err %v, want %q", c.name, err, c.msg)
		}
	}
	empty := filepath.Join(dir, "nothing")
	os.Mkdir(empty, 0o755)
	writeFile(t, empty, "notes.md", "x")
	if _, err := corpusFiles(empty, StyleOWT); err == nil || !strings.Contains(err.Error(), "no .txt or .jsonl") {
		t.Errorf("folder without documents: err %v", err)
	}
}

// lm1bFixture is a few sentences, one long enough to be cut at 16 tokens.
const lm1bFixture = `Hello , world !
The payments , which began in March 2007 at $ 2,900 a month , dwindled to less than $ 800 a month in May of this year .

Café naïve 東京 .
It 's 3.14 .
`

func prepText(t *testing.T, opts TextOptions) (*Dataset, *Manifest) {
	t.Helper()
	m, err := PrepText(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Open(opts.Out)
	if err != nil {
		t.Fatal(err)
	}
	return d, m
}

// textRows returns every row of the three splits, by split, as int32 ids.
func textRows(t *testing.T, d *Dataset) [numSplits][][]int32 {
	t.Helper()
	var rows [numSplits][][]int32
	for s := range numSplits {
		sd, err := d.Split(s.String())
		if err != nil {
			t.Fatal(err)
		}
		for i := range sd.Rows() {
			r := make([]int32, sd.SeqLen)
			sd.RowIDs(r, i)
			rows[s] = append(rows[s], r)
		}
	}
	return rows
}

func TestPrepTextLM1B(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "sents.txt", lm1bFixture)
	const L = 16
	d, m := prepText(t, TextOptions{Input: in, Out: filepath.Join(dir, "out"), Tokenizer: BertTokenizerName, Style: StyleLM1B, SeqLen: L})
	if m.ElementType != "uint16" || m.Tokenizer != BertTokenizerName || m.VocabSize != BertVocabSize || m.PadID != BertPAD || m.MaskID != BertMASK {
		t.Errorf("manifest %+v", m)
	}
	ti := m.Text
	if ti.Documents != 4 || ti.EmptySkipped != 1 || ti.Truncated != 1 || ti.Detokenizer != DetokLM1B || ti.Format != FormatLines {
		t.Errorf("text info %+v", ti)
	}
	// The shard holds 2 bytes per id.
	if sh := m.Splits["train"].Shards; len(sh) > 0 && sh[0].Bytes != sh[0].Rows*L*2 {
		t.Errorf("shard %+v", sh[0])
	}

	// Every sentence is one row: [CLS] its detokenized ids [SEP] [PAD]...,
	// in the split TextSplit gives it; a long one keeps [SEP] last.
	w := bert(t)
	var want [numSplits][][]int32
	for _, line := range strings.Split(lm1bFixture, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		text := DetokenizeLM1B(line)
		ids, _ := w.Encode([]byte(text))
		row := []int32{BertCLS}
		row = append(row, ids[:min(len(ids), L-2)]...)
		row = append(row, BertSEP)
		for len(row) < L {
			row = append(row, BertPAD)
		}
		s := TextSplit(0, []byte(text))
		want[s] = append(want[s], row)
	}
	got := textRows(t, d)
	for s := range numSplits {
		if len(got[s]) != len(want[s]) || int64(len(got[s])) != m.Splits[s.String()].Documents {
			t.Fatalf("%s: %d rows, want %d", s, len(got[s]), len(want[s]))
		}
		for i := range got[s] {
			if !slices.Equal(got[s][i], want[s][i]) {
				t.Errorf("%s row %d:\n got %v\nwant %v", s, i, got[s][i], want[s][i])
			}
		}
	}
	first := want[TextSplit(0, []byte("Hello, world!"))][0]
	if !slices.Equal(first[:6], []int32{101, 7592, 1010, 2088, 999, 102}) {
		t.Errorf("Hello, world! row %v", first)
	}

	// Text rows cannot be reverse-complemented.
	sd, _ := d.Split("train")
	if _, err := sd.NewLoader(LoaderOptions{Batch: 1, RC: true}); err == nil {
		t.Error("RC loader on text rows")
	}
	// ReadRows pads with the text PAD id.
	buf := make([]int32, 3*L)
	n := sd.ReadRows(buf, sd.Rows()-1)
	if n != 1 || buf[L] != BertPAD || buf[3*L-1] != BertPAD || buf[0] != BertCLS {
		t.Errorf("ReadRows: %d rows, %v", n, buf)
	}
}

func TestPrepTextOWT(t *testing.T) {
	dir := t.TempDir()
	var docs []string
	for i := range 40 {
		docs = append(docs, fmt.Sprintf("Document %d: the quick brown fox jumps over the lazy dog %d times, naïvely.\nSecond line %d.", i, i*7, i))
	}
	in := writeFile(t, dir, "docs.txt", strings.Join(docs, "\n\n\n")+"\n")
	const L = 32
	d, m := prepText(t, TextOptions{Input: in, Out: filepath.Join(dir, "out"), Tokenizer: GPT2TokenizerName, Style: StyleOWT, SeqLen: L})
	if m.ElementType != "uint16" || m.VocabSize != GPT2VocabSize || m.PadID != GPT2PAD || m.MaskID != GPT2MASK || m.Text.Documents != 40 || m.Text.Format != FormatBlankLines {
		t.Errorf("manifest %+v, text %+v", m, m.Text)
	}
	// Per split: the documents' ids each followed by EOS, concatenated,
	// cut into rows of BOS + L-2 + EOS; the rest is dropped.
	g := NewGPT2()
	var stream [numSplits][]int32
	for _, doc := range docs {
		ids, _ := g.Encode([]byte(doc))
		s := TextSplit(0, []byte(doc))
		stream[s] = append(append(stream[s], ids...), GPT2EOT)
	}
	got := textRows(t, d)
	var dropped int64
	for s := range numSplits {
		nrows := len(stream[s]) / (L - 2)
		if len(got[s]) != nrows {
			t.Fatalf("%s: %d rows, want %d", s, len(got[s]), nrows)
		}
		for i, row := range got[s] {
			want := append(append([]int32{GPT2EOT}, stream[s][i*(L-2):(i+1)*(L-2)]...), GPT2EOT)
			if !slices.Equal(row, want) {
				t.Errorf("%s row %d:\n got %v\nwant %v", s, i, row, want)
			}
		}
		dropped += int64(len(stream[s]) - nrows*(L-2))
	}
	if m.Text.DroppedTailTokens != dropped || m.Splits["train"].PadFraction != 0 {
		t.Errorf("dropped %d, want %d; %+v", m.Text.DroppedTailTokens, dropped, m.Splits["train"])
	}
}

func TestPrepTextBadInputs(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	good := writeFile(t, dir, "good.txt", "A sentence .\n")
	for _, c := range []struct {
		opts TextOptions
		msg  string
	}{
		{TextOptions{Input: writeFile(t, dir, "bad.txt", "ok .\nnot \xfe ok\n"), Style: StyleLM1B, Tokenizer: BertTokenizerName}, "bad.txt:2: byte 4 of the line: invalid UTF-8"},
		{TextOptions{Input: writeFile(t, dir, "blank.txt", "\n \n\t\n"), Style: StyleLM1B, Tokenizer: BertTokenizerName}, "no document (3 empty ones skipped)"},
		{TextOptions{Input: good, Style: StyleOWT, Tokenizer: GPT2TokenizerName}, "fill no row of 1024"},
		{TextOptions{Input: filepath.Join(dir, "missing.txt"), Style: StyleLM1B, Tokenizer: BertTokenizerName}, "missing.txt"},
		{TextOptions{Input: good, Style: "wiki", Tokenizer: BertTokenizerName}, `--style "wiki"`},
		{TextOptions{Input: good, Style: StyleLM1B, Tokenizer: "dna"}, `--tokenizer "dna"`},
		{TextOptions{Input: good, Style: StyleLM1B, Tokenizer: BertTokenizerName, SeqLen: 4}, "--seq-len 4"},
	} {
		c.opts.Out = out
		_, err := PrepText(context.Background(), c.opts)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%+v: err %v, want %q", c.opts, err, c.msg)
		}
		if ents, _ := os.ReadDir(dir); slices.ContainsFunc(ents, func(e os.DirEntry) bool {
			return strings.HasPrefix(e.Name(), "out") || strings.HasPrefix(e.Name(), ".out")
		}) {
			t.Errorf("%+v: output left behind", c.opts)
		}
	}
	// An existing output is refused without Force.
	os.Mkdir(out, 0o755)
	if _, err := PrepText(context.Background(), TextOptions{Input: good, Out: out, Style: StyleLM1B, Tokenizer: BertTokenizerName}); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("existing out: err %v", err)
	}
}

// The reader hands out int32 ids whatever the element type: a hand-made
// int32 prep directory.
func TestReaderInt32(t *testing.T) {
	dir := t.TempDir()
	const L = 4
	ids := []int32{0, 70000, 3, 99999, 5, 6, 7, 8}
	var b []byte
	for _, id := range ids {
		b = binary.LittleEndian.AppendUint32(b, uint32(id))
	}
	writeFile(t, dir, "train-00000.bin", string(b))
	m := &Manifest{Format: ManifestFormat, Version: 1, Tokenizer: "big", VocabSize: 100000, ElementType: "int32", SeqLen: L,
		Splits: map[string]*SplitInfo{
			"train": {Windows: 2, Tokens: 8, Shards: []Shard{{File: "train-00000.bin", Rows: 2, Bytes: 2 * L * 4}}},
			"valid": {Shards: []Shard{}}, "test": {Shards: []Shard{}},
		}}
	if err := writeJSONFile(filepath.Join(dir, ManifestName), m); err != nil {
		t.Fatal(err)
	}
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := d.Split("train")
	if err != nil {
		t.Fatal(err)
	}
	got := make([]int32, 2*L)
	if n := s.ReadRows(got, 0); n != 2 || !slices.Equal(got, ids) {
		t.Errorf("ReadRows %d: %v", n, got)
	}
	// An id past the vocabulary is an error naming row and position.
	m.VocabSize = 80000
	writeJSONFile(filepath.Join(dir, ManifestName), m)
	d, _ = Open(dir)
	if _, err := d.Split("train"); err == nil || !strings.Contains(err.Error(), "row 0 position 3: id 99999") {
		t.Errorf("out-of-vocabulary id: err %v", err)
	}
	// A uint16 manifest cannot claim a vocabulary past 65536, nor can an
	// unknown element type be read.
	m.ElementType = "uint16"
	writeJSONFile(filepath.Join(dir, ManifestName), m)
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Errorf("uint16 with vocab 80000: err %v", err)
	}
	m.ElementType = "float32"
	writeJSONFile(filepath.Join(dir, ManifestName), m)
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "float32") {
		t.Errorf("float32: err %v", err)
	}
}

// The real LM1B held-out sentences (../shared/data/text/lm1b): one row per
// sentence, rows decode back to the sentence's lower-cased words.
func TestPrepTextLM1BShared(t *testing.T) {
	in := filepath.Join(sharedData(t), "text", "lm1b")
	if _, err := os.Stat(in); err != nil {
		t.Skip("LM1B: ../shared/data/text/lm1b absent")
	}
	out := filepath.Join(t.TempDir(), "lm1b")
	d, m := prepText(t, TextOptions{Input: in, Out: out, Tokenizer: BertTokenizerName, Style: StyleLM1B})
	var rows int64
	for _, s := range SplitNames {
		si := m.Splits[s]
		rows += si.Windows
		if si.Windows != si.Documents || si.Windows < 500 {
			t.Errorf("%s: %d rows for %d sentences", s, si.Windows, si.Documents)
		}
	}
	if m.Text.Documents != 24321 || rows != 24321 || m.Text.Files != 2 {
		t.Errorf("%d sentences, %d rows, %d files", m.Text.Documents, rows, m.Text.Files)
	}
	sd, err := d.Split("valid")
	if err != nil {
		t.Fatal(err)
	}
	row := make([]int32, m.SeqLen)
	w := bert(t)
	for i := range sd.Rows() {
		sd.RowIDs(row, i)
		if row[0] != BertCLS || slices.Index(row, BertSEP) < 2 {
			t.Fatalf("valid row %d: %v", i, row)
		}
		if row[m.SeqLen-1] != BertPAD && row[m.SeqLen-1] != BertSEP {
			t.Fatalf("valid row %d ends in %d", i, row[m.SeqLen-1])
		}
	}
	sd.RowIDs(row, 0)
	s, _ := w.Decode(row[1:slices.Index(row, BertSEP)])
	if s == "" || s != strings.ToLower(s) {
		t.Errorf("valid row 0 decodes to %q", s)
	}
}

// An LM1B-style corpus to uint16 shards and back.
func ExamplePrepText() {
	dir, _ := os.MkdirTemp("", "text")
	defer os.RemoveAll(dir)
	in := filepath.Join(dir, "sentences.txt")
	os.WriteFile(in, []byte("Hello , world !\nCafé naïve .\n"), 0o644)
	m, err := PrepText(context.Background(), TextOptions{
		Input: in, Out: filepath.Join(dir, "prep"), Tokenizer: "bert-base-uncased", Style: "lm1b", SeqLen: 8,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.ElementType, m.Text.Documents, m.Splits["train"].Windows+m.Splits["valid"].Windows+m.Splits["test"].Windows)
	d, _ := Open(filepath.Join(dir, "prep"))
	for _, s := range SplitNames {
		sd, _ := d.Split(s)
		row := make([]int32, sd.SeqLen)
		for i := range sd.Rows() {
			sd.RowIDs(row, i)
			fmt.Println(row)
		}
	}
	// Unordered output:
	// uint16 2 2
	// [101 7592 1010 2088 999 102 0 0]
	// [101 7668 15743 1012 102 0 0 0]
}

// A cancelled context stops the prep and leaves no output behind.
func TestPrepTextCancel(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "s.txt", strings.Repeat("A sentence of a few words .\n", 5000))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := filepath.Join(dir, "out")
	_, err := PrepText(ctx, TextOptions{Input: in, Out: out, Tokenizer: BertTokenizerName, Style: StyleLM1B})
	if err == nil || !strings.Contains(err.Error(), "canceled") {
		t.Errorf("err %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("left behind: %v", ents)
	}
}

// Lines longer than the reader's buffer (1 MiB) are read whole.
func TestReadCorpusLongLines(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("word ", 700_000) // 3.5 MB
	jl := writeFile(t, dir, "long.jsonl", `{"text": "`+long+`"}`+"\n"+`{"text": "short"}`+"\n")
	docs, _ := readAllDocs(t, jl, StyleOWT)
	if len(docs) != 2 || docs[0] != "long.jsonl:1:"+strings.TrimSpace(long) || docs[1] != "long.jsonl:2:short" {
		t.Errorf("jsonl: %d documents, lengths %d", len(docs), len(docs[0]))
	}
	lines := writeFile(t, dir, "long.tokens", long+"\nnext")
	docs, _ = readAllDocs(t, lines, StyleLM1B)
	if len(docs) != 2 || len(docs[0]) != len("long.tokens:1:")+len(long)-1 || docs[1] != "long.tokens:2:next" {
		t.Errorf("lines: %d documents", len(docs))
	}
}

// Text prep of the real LM1B held-out sentences (bert-base-uncased, rows of
// 128): go test -run '^$' -bench PrepTextLM1B ./dataprep
func BenchmarkPrepTextLM1B(b *testing.B) {
	in := filepath.Join(sharedDataOrEmpty(), "text", "lm1b")
	if _, err := os.Stat(in); err != nil {
		b.Skip("LM1B: ../shared/data/text/lm1b absent")
	}
	var size int64
	ents, _ := os.ReadDir(in)
	for _, e := range ents {
		if fi, err := e.Info(); err == nil {
			size += fi.Size()
		}
	}
	b.SetBytes(size)
	out := filepath.Join(b.TempDir(), "lm1b")
	for b.Loop() {
		if _, err := PrepText(context.Background(), TextOptions{Input: in, Out: out, Force: true, Tokenizer: BertTokenizerName, Style: StyleLM1B}); err != nil {
			b.Fatal(err)
		}
	}
}
