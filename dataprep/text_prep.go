package dataprep

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
)

// Defaults of TextOptions.
const (
	DefaultLM1BSeqLen = 128  // MDLM's LM1B setting
	DefaultOWTSeqLen  = 1024 // MDLM's OpenWebText setting
)

// TextOptions configure PrepText. The zero value of a field means its
// default.
type TextOptions struct {
	// Input is a text file or a folder of them; Out the prep directory to
	// create.
	Input, Out string
	// Force replaces an existing Out.
	Force bool
	// Tokenizer is "bert-base-uncased" or "gpt2".
	Tokenizer string
	// Style is StyleLM1B (one sentence a line, a padded row each) or
	// StyleOWT (documents concatenated and wrapped into rows).
	Style string
	// SeqLen is the row length in tokens (default 128 for lm1b, 1024 for
	// owt; at least 8).
	SeqLen int
	// Detok is DetokLM1B or DetokNone; the default is DetokLM1B for the
	// lm1b style (as MDLM does) and DetokNone for owt.
	Detok string
	// SplitSeed keys the document hash of TextSplit (default 0).
	SplitSeed uint64
	// ShardBytes is the largest shard file (default 256 MiB).
	ShardBytes int64
}

// TextInfo records how a text prep read and framed its corpus.
type TextInfo struct {
	Style       string `json:"style"`
	Format      string `json:"format"` // FormatLines, FormatTxtDir, FormatJSONL or FormatBlankLines
	Detokenizer string `json:"detokenizer"`
	SplitSeed   uint64 `json:"split_seed"`
	// Framing says how documents become rows, with the ids used.
	Framing      string `json:"framing"`
	BOS          int    `json:"bos_id"`
	EOS          int    `json:"eos_id"`
	Files        int64  `json:"files"`
	Documents    int64  `json:"documents"`
	EmptySkipped int64  `json:"empty_skipped"`
	// ContentTokens counts the documents' tokens before framing.
	ContentTokens int64 `json:"content_tokens"`
	// Truncated counts lm1b sentences cut to SeqLen-2 tokens, and
	// TruncatedTokens the tokens cut off.
	Truncated       int64 `json:"truncated,omitempty"`
	TruncatedTokens int64 `json:"truncated_tokens,omitempty"`
	// DroppedTailTokens counts owt tokens at the end of each split too few
	// to fill a row (MDLM drops this remainder too).
	DroppedTailTokens int64 `json:"dropped_tail_tokens,omitempty"`
}

// The framings recorded in the manifest. BOS and EOS are the tokenizer's:
// <|endoftext|> (50256) for both with gpt2, [CLS] (101) and [SEP] (102)
// with bert-base-uncased. (MDLM takes its BOS and EOS ids as
// tokenizer.encode(token)[0], which for BERT gives [CLS] for both; owt
// with bert-base-uncased here ends documents and rows with [SEP].)
const (
	framingLM1B = "lm1b: each sentence one row: [BOS] tokens [EOS] then [PAD] to seq_len; a longer sentence keeps its first seq_len-2 tokens and still ends in [EOS] (Hugging Face truncation with add_special_tokens, as MDLM's lm1b with wrap=False)"
	framingOWT  = "owt: per split, documents in input order, each followed by [EOS], concatenated; rows are [BOS] + the next seq_len-2 tokens + [EOS]; the remainder at the end of a split is dropped (MDLM's wrap/group_texts, over the whole split rather than per 1000 documents)"
)

func (o *TextOptions) setDefaults() {
	if o.SeqLen == 0 {
		o.SeqLen = DefaultOWTSeqLen
		if o.Style == StyleLM1B {
			o.SeqLen = DefaultLM1BSeqLen
		}
	}
	if o.Detok == "" {
		o.Detok = DetokNone
		if o.Style == StyleLM1B {
			o.Detok = DetokLM1B
		}
	}
	if o.ShardBytes == 0 {
		o.ShardBytes = DefaultShardBytes
	}
}

func (o *TextOptions) check() error {
	switch {
	case o.Style != StyleLM1B && o.Style != StyleOWT:
		return fmt.Errorf("--style %q: want %s or %s", o.Style, StyleLM1B, StyleOWT)
	case o.Tokenizer != BertTokenizerName && o.Tokenizer != GPT2TokenizerName:
		return fmt.Errorf("--tokenizer %q: text prep wants %s or %s", o.Tokenizer, BertTokenizerName, GPT2TokenizerName)
	case o.Detok != DetokLM1B && o.Detok != DetokNone:
		return fmt.Errorf("--detok %q: want %s or %s", o.Detok, DetokLM1B, DetokNone)
	case o.SeqLen < MinSeqLen:
		return fmt.Errorf("--seq-len %d: must be at least %d", o.SeqLen, MinSeqLen)
	case o.ShardBytes < int64(o.SeqLen)*4:
		return fmt.Errorf("shard size %d bytes: smaller than one row of %d tokens", o.ShardBytes, o.SeqLen)
	case o.Out == "":
		return errors.New("no output directory")
	}
	return nil
}

// PrepText tokenizes a text corpus into the prep directory opts.Out: shards
// of fixed-length rows (uint16 ids for both text vocabularies) per split and
// manifest.json, with the same layout, atomic write and reader as the DNA
// Prep. Each document (lm1b: sentence) goes to train, valid or test by
// TextSplit. Empty documents are skipped and counted; invalid UTF-8 is an
// error naming file, line and byte; a corpus without a document is an
// error.
func PrepText(ctx context.Context, opts TextOptions) (*Manifest, error) {
	opts.setDefaults()
	if err := opts.check(); err != nil {
		return nil, fmt.Errorf("prep: %w", err)
	}
	tok, err := TokenizerByName(opts.Tokenizer)
	if err != nil {
		return nil, fmt.Errorf("prep: %w", err)
	}
	fi, err := os.Stat(opts.Input)
	if err != nil {
		return nil, fmt.Errorf("prep: text %w", err)
	}
	files, err := corpusFiles(opts.Input, opts.Style)
	if err != nil {
		return nil, fmt.Errorf("prep: %w", err)
	}

	return stageDir(opts.Out, opts.Force, func(tmp string) (*Manifest, error) {
		return prepTextInto(ctx, tmp, &opts, tok, files, fi.IsDir())
	})
}

// docBatch is a run of documents tokenized by one worker.
type docBatch struct {
	docs  []textDoc
	ids   [][]int32
	split []Split
	err   error
	done  chan struct{}
}

// textBatchDocs and textBatchBytes bound a docBatch.
const (
	textBatchDocs  = 1024
	textBatchBytes = 1 << 20
)

func prepTextInto(ctx context.Context, dir string, opts *TextOptions, tok Tokenizer, files []string, isDir bool) (*Manifest, error) {
	type hashResult struct {
		sum string
		err error
	}
	hashc := make(chan hashResult, 1)
	go func() {
		sum, err := corpusSHA256(opts.Input, files, isDir)
		hashc <- hashResult{sum, err}
	}()

	// The corpus is read on one goroutine, tokenized in batches by one
	// worker per CPU, and framed into rows in input order here.
	nw := runtime.GOMAXPROCS(0)
	order := make(chan *docBatch, 2*nw)
	work := make(chan *docBatch, 2*nw)
	stop := make(chan struct{})
	var (
		stats   corpusStats
		readErr error
	)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer close(work)
		defer close(order)
		b := &docBatch{done: make(chan struct{})}
		size := 0
		send := func() error {
			select {
			case order <- b:
			case <-stop:
				return errStop
			}
			work <- b
			b, size = &docBatch{done: make(chan struct{})}, 0
			return nil
		}
		stats, readErr = readCorpus(files, opts.Style, isDir, func(d textDoc) error {
			b.docs = append(b.docs, d)
			size += len(d.text)
			if len(b.docs) >= textBatchDocs || size >= textBatchBytes {
				return send()
			}
			return nil
		})
		if readErr == nil && len(b.docs) > 0 {
			readErr = send()
		}
	}()
	for range nw {
		go func() {
			for b := range work {
				select {
				case <-stop:
				default:
					tokenizeBatch(b, tok, opts)
				}
				close(b.done)
			}
		}()
	}

	sp := tok.Special()
	f := newTextFramer(dir, opts, tok)
	err := func() error {
		for b := range order {
			<-b.done
			if b.err != nil {
				return b.err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			for i := range b.docs {
				if err := f.add(b.split[i], b.ids[i]); err != nil {
					return err
				}
			}
		}
		return nil
	}()
	if err != nil {
		close(stop)
		for b := range order {
			<-b.done
		}
	}
	<-readDone
	hr := <-hashc
	if err == nil && readErr != nil && readErr != errStop {
		err = readErr
	}
	if err == nil {
		err = f.finish()
	}
	if err == nil {
		err = hr.err
	}
	if err != nil {
		f.abort()
		return nil, fmt.Errorf("prep: %w", err)
	}
	if stats.docs == 0 {
		return nil, fmt.Errorf("prep: %s: no document (%d empty ones skipped)", opts.Input, stats.empty)
	}
	var windows int64
	for _, w := range f.w {
		windows += w.windows
	}
	if windows == 0 {
		return nil, fmt.Errorf("prep: %s: %d documents of %d tokens in all fill no row of %d tokens in any split",
			opts.Input, stats.docs, f.content, opts.SeqLen)
	}

	info := &TextInfo{
		Style: opts.Style, Format: stats.format, Detokenizer: opts.Detok, SplitSeed: opts.SplitSeed,
		BOS: sp.BOS, EOS: sp.EOS, Files: stats.files, Documents: stats.docs, EmptySkipped: stats.empty,
		ContentTokens: f.content, Truncated: f.truncated, TruncatedTokens: f.truncTokens,
	}
	if opts.Style == StyleLM1B {
		info.Framing = framingLM1B
	} else {
		info.Framing = framingOWT
		for _, s := range f.stream {
			info.DroppedTailTokens += int64(len(s))
		}
	}
	m := &Manifest{
		Format:      ManifestFormat,
		Version:     1,
		Tokenizer:   tok.Name(),
		VocabSize:   tok.VocabSize(),
		ElementType: ElementTypeFor(tok.VocabSize()),
		SeqLen:      opts.SeqLen,
		PadID:       sp.PAD,
		MaskID:      sp.MASK,
		Input:       Input{Path: opts.Input, SHA256: hr.sum, Bytes: stats.bytes, Records: []RecordInfo{}},
		Params: Params{
			SeqLen: opts.SeqLen, Stride: opts.SeqLen, SplitMode: "text-hash", SplitHash: textSplitDoc,
			ShardBytes: opts.ShardBytes,
		},
		Splits: map[string]*SplitInfo{},
		Text:   info,
	}
	for s := range numSplits {
		si := f.w[s].info()
		si.Documents = f.docs[s]
		if si.Tokens > 0 {
			si.PadFraction = float64(f.pads[s]) / float64(si.Tokens)
		}
		m.Splits[s.String()] = si
	}
	if err := writeJSONFile(filepath.Join(dir, ManifestName), m); err != nil {
		return nil, fmt.Errorf("prep: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return nil, fmt.Errorf("prep: %w", err)
	}
	return m, nil
}

// tokenizeBatch detokenizes (lm1b), splits and tokenizes the documents of b.
func tokenizeBatch(b *docBatch, tok Tokenizer, opts *TextOptions) {
	b.ids = make([][]int32, len(b.docs))
	b.split = make([]Split, len(b.docs))
	for i, d := range b.docs {
		text := d.text
		if opts.Detok == DetokLM1B {
			text = []byte(DetokenizeLM1B(string(text)))
		}
		b.split[i] = TextSplit(opts.SplitSeed, text)
		ids, err := tok.Encode(text)
		if err != nil {
			b.err = fmt.Errorf("%s:%d: %w", d.file, d.line, err)
			return
		}
		b.ids[i] = ids
		b.docs[i].text = nil // framing needs only the ids
	}
}

// textFramer turns tokenized documents into rows of each split.
type textFramer struct {
	L      int
	elem   int // bytes per id in the shards
	style  string
	sp     Special
	w      [numSplits]*shardWriter
	buf    [numSplits][]byte  // encoded rows not yet written
	stream [numSplits][]int32 // owt: tokens not yet in a row
	row    []int32

	docs, pads                      [numSplits]int64
	content, truncated, truncTokens int64
}

// textChunkBytes is how many bytes of rows a split gathers before writing.
const textChunkBytes = 4 << 20

func newTextFramer(dir string, opts *TextOptions, tok Tokenizer) *textFramer {
	elem := ElementSize(ElementTypeFor(tok.VocabSize())) // 2 for both text vocabularies
	f := &textFramer{L: opts.SeqLen, elem: elem, style: opts.Style, sp: tok.Special(), row: make([]int32, opts.SeqLen)}
	maxRows := max(opts.ShardBytes/int64(opts.SeqLen*elem), 1)
	for s := range numSplits {
		f.w[s] = &shardWriter{dir: dir, split: s, seqLen: opts.SeqLen, elemSize: elem, maxRows: maxRows}
	}
	return f
}

func (f *textFramer) add(s Split, ids []int32) error {
	f.docs[s]++
	f.content += int64(len(ids))
	L := f.L
	if f.style == StyleLM1B {
		n := len(ids)
		if n > L-2 {
			f.truncated++
			f.truncTokens += int64(n - (L - 2))
			n = L - 2
		}
		f.row[0] = int32(f.sp.BOS)
		copy(f.row[1:], ids[:n])
		f.row[n+1] = int32(f.sp.EOS)
		for i := n + 2; i < L; i++ {
			f.row[i] = int32(f.sp.PAD)
		}
		f.pads[s] += int64(L - 2 - n)
		return f.emit(s)
	}
	st := append(append(f.stream[s], ids...), int32(f.sp.EOS))
	k := 0
	for len(st)-k >= L-2 {
		f.row[0] = int32(f.sp.BOS)
		copy(f.row[1:L-1], st[k:k+L-2])
		f.row[L-1] = int32(f.sp.EOS)
		k += L - 2
		if err := f.emit(s); err != nil {
			return err
		}
	}
	f.stream[s] = append(st[:0], st[k:]...)
	return nil
}

// emit encodes f.row (little-endian ids of f.elem bytes) into the buffer
// of split s.
func (f *textFramer) emit(s Split) error {
	for _, id := range f.row {
		switch f.elem {
		case 1:
			f.buf[s] = append(f.buf[s], uint8(id))
		case 2:
			f.buf[s] = binary.LittleEndian.AppendUint16(f.buf[s], uint16(id))
		default:
			f.buf[s] = binary.LittleEndian.AppendUint32(f.buf[s], uint32(id))
		}
	}
	if len(f.buf[s]) >= textChunkBytes {
		return f.flush(s)
	}
	return nil
}

func (f *textFramer) flush(s Split) error {
	rows := len(f.buf[s]) / (f.elem * f.L)
	if rows == 0 {
		return nil
	}
	err := f.w[s].write(f.buf[s], rows, 0)
	f.buf[s] = f.buf[s][:0]
	return err
}

func (f *textFramer) finish() error {
	for s := range numSplits {
		if err := f.flush(s); err != nil {
			return err
		}
		if err := f.w[s].closeShard(); err != nil {
			return err
		}
	}
	return nil
}

func (f *textFramer) abort() {
	for _, w := range f.w {
		w.abort()
	}
}

// corpusSHA256 is the sha256 of the input file, or for a folder the sha256
// of the lines "SHA256  RELPATH\n" of its files in reading order (the
// format of sha256sum).
func corpusSHA256(root string, files []string, isDir bool) (string, error) {
	if !isDir {
		return fileSHA256(files[0])
	}
	h := sha256.New()
	for _, p := range files {
		sum, err := fileSHA256(p)
		if err != nil {
			return "", err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			rel = p
		}
		io.WriteString(h, sum+"  "+filepath.ToSlash(rel)+"\n")
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
