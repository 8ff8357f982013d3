package varscore

import (
	"errors"
	"fmt"
	"io"

	"github.com/seqdiff/seqdiff/genome"
)

// Reference is the genome the variants are read against: record names,
// lengths, and bases [start, end) of a record as A C G T N.
// *genome.Indexed is one.
type Reference interface {
	Names() []string
	Len(name string) (int, error)
	Fetch(name string, start, end int) ([]byte, error)
}

// OpenReference opens a FASTA file for scoring: by random access through
// PATH.fai (and PATH.gzi for BGZF) when the index is there, else (no index,
// or gzip that is not BGZF) by reading every record into memory. Close the
// returned closer when done.
func OpenReference(path string) (Reference, io.Closer, error) {
	x, err := genome.OpenIndexed(path)
	if err == nil {
		return x, x, nil
	}
	if !errors.Is(err, genome.ErrNoIndex) && !errors.Is(err, genome.ErrNotBGZF) {
		return nil, nil, err
	}
	r, err := genome.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	m := &memReference{seqs: map[string][]byte{}}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		m.names = append(m.names, rec.Name)
		m.seqs[rec.Name] = rec.Seq
	}
	return m, nopCloser{}, nil
}

// memReference is a FASTA held in memory.
type memReference struct {
	names []string
	seqs  map[string][]byte
}

func (m *memReference) Names() []string { return m.names }

func (m *memReference) Len(name string) (int, error) {
	s, ok := m.seqs[name]
	if !ok {
		return 0, fmt.Errorf("no record %q: %w", name, genome.ErrNoSuchRecord)
	}
	return len(s), nil
}

func (m *memReference) Fetch(name string, start, end int) ([]byte, error) {
	s, ok := m.seqs[name]
	if !ok {
		return nil, fmt.Errorf("no record %q: %w", name, genome.ErrNoSuchRecord)
	}
	if start < 0 || end < start || end > len(s) {
		return nil, fmt.Errorf("fetch %s:%d-%d: record is %d bases long: %w", name, start, end, len(s), genome.ErrRange)
	}
	return append([]byte(nil), s[start:end]...), nil
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
