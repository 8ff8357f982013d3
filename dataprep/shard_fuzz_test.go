package dataprep

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/vocab"
)

// fuzzManifest is a small valid manifest: rows of 4 ids, two train rows in
// train-00000.bin, one valid row in valid-00000.bin, no test rows.
func fuzzManifest(elem string, vocabSize int) []byte {
	size := int64(ElementSize(elem))
	tok := vocab.DNATokenizer
	if vocabSize != vocab.DNASize {
		tok = GPT2TokenizerName
	}
	m := Manifest{Format: ManifestFormat, Version: 1, Tokenizer: tok, VocabSize: vocabSize, ElementType: elem,
		SeqLen: 4, PadID: 4, MaskID: 3,
		Splits: map[string]*SplitInfo{
			"train": {Windows: 2, Tokens: 8, Shards: []Shard{{File: "train-00000.bin", Rows: 2, Bytes: 8 * size}}},
			"valid": {Windows: 1, Tokens: 4, Shards: []Shard{{File: "valid-00000.bin", Rows: 1, Bytes: 4 * size}}},
			"test":  {Shards: []Shard{}},
		}}
	b, _ := json.Marshal(m)
	return b
}

// FuzzShards: no manifest and shard files make Open, Split or the Loader
// panic; errors name the prep directory or the shard; and a directory that
// opens holds what its manifest says: each split reads with its window
// count of rows, every id inside the vocabulary, and batches drawn from it
// stay inside the vocabulary too.
//
//	go test -run '^$' -fuzz FuzzShards -fuzztime 10m -parallel 1 ./dataprep
func FuzzShards(f *testing.F) {
	ids := []byte{7, 8, 9, 10, 11, 4, 4, 4}
	f.Add(fuzzManifest("uint8", 12), ids, []byte{7, 7, 8, 8})
	f.Add(fuzzManifest("uint8", 12), ids[:7], []byte{7, 7, 8, 8})        // a truncated shard
	f.Add(fuzzManifest("uint8", 12), append(ids, 7), []byte{7, 7, 8, 8}) // a longer one
	f.Add(fuzzManifest("uint8", 12), ids, []byte{7, 7, 8, 200})          // an id outside the vocabulary
	f.Add(fuzzManifest("uint16", 300), []byte{7, 0, 8, 1, 9, 0, 10, 0, 11, 0, 4, 0, 4, 0, 4, 0}, []byte{7, 0, 7, 0, 8, 0, 8, 0})
	f.Add(fuzzManifest("int32", 70000), make([]byte, 32), make([]byte, 16))
	f.Add([]byte(`{"format":"seqdiff-prep","element_type":"uint8","vocab_size":12,"seq_len":4611686018427387904,`+
		`"splits":{"train":{"windows":4,"tokens":0,"shards":[{"file":"train-00000.bin","rows":4,"bytes":0}]},"valid":{"shards":[]},"test":{"shards":[]}}}`), []byte{}, []byte{})
	f.Add([]byte(`{"format":"seqdiff-prep","element_type":"uint8","vocab_size":12,"seq_len":2,`+
		`"splits":{"train":{"windows":2,"tokens":4,"shards":[{"file":"../train-00000.bin","rows":2,"bytes":4}]},"valid":{"shards":[]},"test":{"shards":[]}}}`), ids[:4], []byte{})
	f.Add([]byte("{"), ids, ids)
	f.Fuzz(func(t *testing.T, manifest, train, valid []byte) {
		dir := t.TempDir()
		for name, b := range map[string][]byte{ManifestName: manifest, "train-00000.bin": train, "valid-00000.bin": valid, "test-00000.bin": valid} {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		d, err := Open(dir)
		if err != nil {
			if !strings.Contains(err.Error(), dir) {
				t.Fatalf("error %q does not name %s", err, dir)
			}
			return
		}
		m := d.Manifest
		elem := int64(ElementSize(m.ElementType))
		for _, name := range SplitNames {
			si := m.Splits[name]
			var onDisk int64
			for _, sh := range si.Shards {
				fi, err := os.Stat(filepath.Join(dir, sh.File))
				if err != nil {
					t.Fatalf("%s: opened with shard %s: %v", name, sh.File, err)
				}
				onDisk += fi.Size()
			}
			if si.Windows < 0 || onDisk != si.Windows*int64(m.SeqLen)*elem {
				t.Fatalf("%s: opened with %d windows of %d ids of %d bytes, %d bytes of shards", name, si.Windows, m.SeqLen, elem, onDisk)
			}
			s, err := d.Split(name)
			if err != nil {
				if !strings.Contains(err.Error(), dir) {
					t.Fatalf("%s: error %q does not name %s", name, err, dir)
				}
				continue
			}
			if int64(s.Rows()) != si.Windows {
				t.Fatalf("%s: %d rows, the manifest counts %d", name, s.Rows(), si.Windows)
			}
			inVocab := func(what string, row []int32) {
				for _, id := range row {
					if id < 0 || int(id) >= m.VocabSize {
						t.Fatalf("%s: %s holds id %d outside the vocabulary of %d", name, what, id, m.VocabSize)
					}
				}
			}
			for n, buf := range s.Batches(2) {
				inVocab("an eval batch", buf[:n*m.SeqLen])
			}
			l, err := s.NewLoader(LoaderOptions{Batch: 3, Seed: 1, RC: m.Tokenizer == vocab.DNATokenizer})
			if err != nil {
				if s.Rows() > 0 && m.Tokenizer == vocab.DNATokenizer {
					t.Fatalf("%s: loader over %d rows: %v", name, s.Rows(), err)
				}
				continue
			}
			buf := make([]int32, 3*m.SeqLen)
			for range 3 {
				if err := l.Next(buf); err != nil {
					t.Fatal(err)
				}
				inVocab("a training batch", buf)
			}
		}
	})
}
