package dataprep

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/seqdiff/seqdiff/vocab"
)

// ManifestName is the name of the manifest file in a prep directory.
const ManifestName = "manifest.json"

// ManifestFormat identifies a seqdiff prep directory.
const ManifestFormat = "seqdiff-prep"

// Manifest describes a prep directory: where its tokens came from, every
// parameter that made them, and the shards of each split. Other tools
// (pretrain, eval, plot) read it.
type Manifest struct {
	Format      string `json:"format"`
	Version     int    `json:"version"`
	Tokenizer   string `json:"tokenizer"`
	VocabSize   int    `json:"vocab_size"`
	ElementType string `json:"element_type"` // "uint8" for DNA; text uses "uint16" or "int32"
	SeqLen      int    `json:"seq_len"`
	PadID       int    `json:"pad_id"`
	MaskID      int    `json:"mask_id"`
	Input       Input  `json:"input"`
	Params      Params `json:"params"`
	// Splits maps "train", "valid" and "test" to their windows and shards.
	Splits map[string]*SplitInfo `json:"splits"`
	// Fixups lists the blocks moved by the every-split-gets-a-block rule.
	Fixups []Fixup `json:"fixups,omitempty"`
	// Text describes a text corpus prep (PrepText); nil for DNA.
	Text *TextInfo `json:"text,omitempty"`
}

// Input identifies the FASTA a prep read.
type Input struct {
	Path    string       `json:"path"`
	SHA256  string       `json:"sha256"` // of the file's bytes as stored (compressed or not)
	Bytes   int64        `json:"bytes"`
	Bases   int64        `json:"bases"`
	Records []RecordInfo `json:"records"`
}

// RecordInfo is one FASTA record: its name and length in bases.
type RecordInfo struct {
	Name   string `json:"name"`
	Length int    `json:"length"`
}

// Params are the parameters of a prep run.
type Params struct {
	SeqLen      int      `json:"seq_len"`
	Stride      int      `json:"stride"`
	MaxN        float64  `json:"max_n"`
	SplitMode   string   `json:"split_mode"` // "bed", "chroms" or "blocks"
	Block       int      `json:"block,omitempty"`
	SplitHash   string   `json:"split_hash,omitempty"`
	ValidChroms []string `json:"valid_chroms,omitempty"`
	TestChroms  []string `json:"test_chroms,omitempty"`
	SplitBED    string   `json:"split_bed,omitempty"`
	SplitBEDSHA string   `json:"split_bed_sha256,omitempty"`
	ShardBytes  int64    `json:"shard_bytes"`
}

// SplitInfo counts one split.
type SplitInfo struct {
	Windows   int64   `json:"windows"`
	Tokens    int64   `json:"tokens"`
	NFraction float64 `json:"n_fraction"` // fraction of the split's tokens that are N
	// Text preps only: documents (lm1b: sentences) in the split, and the
	// fraction of its tokens that are PAD.
	Documents   int64   `json:"documents,omitempty"`
	PadFraction float64 `json:"pad_fraction,omitempty"`
	Shards      []Shard `json:"shards"`
}

// Shard is one file of fixed-length rows.
type Shard struct {
	File  string `json:"file"`
	Rows  int64  `json:"rows"`
	Bytes int64  `json:"bytes"`
}

// Fixup records a block moved to a split that the hash left empty.
type Fixup struct {
	Chrom string `json:"chrom"`
	Block int    `json:"block"`
	From  string `json:"from"`
	To    string `json:"to"`
}

// splitHashDoc is recorded in the manifest so that a reader of it knows the
// block rule without reading this code.
const splitHashDoc = `murmur3_fmix64(fnv1a64(canonical_chrom + ":" + block_index)) % 20: 0 valid, 1 test, else train; if a split has no block and there are >= 3 non-empty blocks, it takes the last block (FASTA order) of the split holding the most blocks (ties: train, valid, test)`

// MaxSeqLen bounds a manifest's seq_len (2^30), so that row sizes computed
// from it cannot overflow.
const MaxSeqLen = 1 << 30

// ReadManifest reads and checks dir/manifest.json (format, element type,
// seq_len, the three splits); it does not look at the shard files.
func ReadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestName)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("prep dir %s: %w", dir, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	if m.Format != ManifestFormat {
		return nil, fmt.Errorf("manifest %s: format %q, want %q", path, m.Format, ManifestFormat)
	}
	size := ElementSize(m.ElementType)
	if size == 0 {
		return nil, fmt.Errorf("manifest %s: element type %q, this reader reads uint8, uint16 and int32", path, m.ElementType)
	}
	if m.VocabSize < 1 || size < 4 && m.VocabSize > 1<<(8*size) {
		return nil, fmt.Errorf("manifest %s: vocab_size %d does not fit element type %s", path, m.VocabSize, m.ElementType)
	}
	if m.SeqLen < 1 || m.SeqLen > MaxSeqLen {
		return nil, fmt.Errorf("manifest %s: seq_len %d outside 1..%d", path, m.SeqLen, MaxSeqLen)
	}
	if m.PadID < 0 || m.PadID >= m.VocabSize || m.MaskID < 0 || m.MaskID >= m.VocabSize {
		return nil, fmt.Errorf("manifest %s: pad_id %d or mask_id %d outside the vocabulary of %d", path, m.PadID, m.MaskID, m.VocabSize)
	}
	if m.Tokenizer == vocab.DNATokenizer && m.VocabSize != vocab.DNASize {
		return nil, fmt.Errorf("manifest %s: tokenizer %s with vocab_size %d, want %d", path, m.Tokenizer, m.VocabSize, vocab.DNASize)
	}
	for _, s := range SplitNames {
		if m.Splits[s] == nil {
			return nil, fmt.Errorf("manifest %s: no %q split", path, s)
		}
	}
	return &m, nil
}

// ElementSize returns the bytes per token id of a manifest element type
// ("uint8" 1, "uint16" 2, "int32" 4; all little-endian), or 0 for an
// unknown type.
func ElementSize(elementType string) int {
	switch elementType {
	case "uint8":
		return 1
	case "uint16":
		return 2
	case "int32":
		return 4
	}
	return 0
}

// ElementTypeFor returns the narrowest element type that holds ids below
// vocabSize.
func ElementTypeFor(vocabSize int) string {
	switch {
	case vocabSize <= 1<<8:
		return "uint8"
	case vocabSize <= 1<<16:
		return "uint16"
	}
	return "int32"
}

func writeJSONFile(path string, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Summary is the prep directory in one line: windows (rows), tokens and N
// or PAD fraction per split, and the input's size.
func (m *Manifest) Summary() string {
	var parts []string
	for _, s := range SplitNames {
		si := m.Splits[s]
		if si == nil {
			continue
		}
		if m.Text != nil {
			parts = append(parts, fmt.Sprintf("%s %d rows (%d docs, %d tokens, %.1f%% PAD)", s, si.Windows, si.Documents, si.Tokens, 100*si.PadFraction))
		} else {
			parts = append(parts, fmt.Sprintf("%s %d windows (%d tokens, %.1f%% N)", s, si.Windows, si.Tokens, 100*si.NFraction))
		}
	}
	if m.Text != nil {
		return fmt.Sprintf("%s, %s: %s; %d documents (%d empty skipped), %d tokens", m.Tokenizer, m.Text.Style, strings.Join(parts, ", "),
			m.Text.Documents, m.Text.EmptySkipped, m.Text.ContentTokens)
	}
	return fmt.Sprintf("%s; %.1f Mb", strings.Join(parts, ", "), float64(m.Input.Bases)/1e6)
}
