package train

import (
	"fmt"

	"github.com/seqdiff/seqdiff/dataprep"
)

// Rows is a split read in order for evaluation (dataprep.SplitData is one).
type Rows interface {
	Rows() int
	// ReadRows copies rows start, start+1, … into dst (len(dst)/L rows)
	// and PAD-fills what lies past the end; it returns the rows copied.
	ReadRows(dst []int32, start int) int
}

// Stream is the endless, resumable stream of training batches
// (dataprep.Loader is one).
type Stream interface {
	Next(dst []int32) error
	Cursor() dataprep.Cursor
}

// Data is what a run trains and evaluates on.
type Data struct {
	SeqLen int
	// Train opens the training stream at a cursor (zero: the start).
	Train func(cur dataprep.Cursor) (Stream, error)
	Valid Rows // nil: no evaluation during training
	// Vocabulary ids of the data, checked against the model's.
	VocabSize, MaskID, PadID int
	// Tokenizer names the data's tokenizer (manifest); a text one
	// (bert-base-uncased, gpt2) gives the model its vocabulary and ids.
	Tokenizer string
}

// OpenData opens a prep directory: its train split as a seeded, optionally
// reverse-complement-augmented stream of batch rows, its valid split for
// evaluation (nil when empty).
func OpenData(dir string, batch int, seed uint64, rc bool) (*Data, error) {
	ds, err := dataprep.Open(dir)
	if err != nil {
		return nil, err
	}
	tr, err := ds.Split("train")
	if err != nil {
		return nil, err
	}
	if tr.Rows() == 0 {
		return nil, fmt.Errorf("prep dir %s: train split is empty", dir)
	}
	m := ds.Manifest
	d := &Data{SeqLen: m.SeqLen, VocabSize: m.VocabSize, MaskID: m.MaskID, PadID: m.PadID, Tokenizer: m.Tokenizer}
	d.Train = func(cur dataprep.Cursor) (Stream, error) {
		ld, err := tr.NewLoader(dataprep.LoaderOptions{Batch: batch, Seed: seed, RC: rc, Cursor: cur})
		if err != nil {
			return nil, fmt.Errorf("prep dir %s: %w", dir, err)
		}
		return ld, nil
	}
	if va, err := ds.Split("valid"); err == nil && va.Rows() > 0 {
		d.Valid = va
	}
	return d, nil
}
