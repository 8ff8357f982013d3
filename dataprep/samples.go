package dataprep

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/seqdiff/seqdiff/genome"
	"github.com/seqdiff/seqdiff/internal/atomicfile"
	"github.com/seqdiff/seqdiff/vocab"
)

// WriteSamples writes generated rows to path atomically: for the DNA
// tokenizer FASTA records >sample_i desc, 60 bases a line; for a text
// tokenizer one sample a line (whitespace runs, newlines included, become
// one space) or, when path ends in .jsonl, one {"sample": i, "text": ...}
// object a line with the text as generated. With cut a text sample ends
// after its first EOS past position 0 (CutAtEOS).
func WriteSamples(path string, tok Tokenizer, rows [][]int32, desc string, cut bool) error {
	jsonl := strings.HasSuffix(path, ".jsonl")
	return atomicfile.Write(path, func(f *os.File) error {
		w := bufio.NewWriter(f)
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for i, r := range rows {
			dna := tok.Name() == vocab.DNATokenizer
			if cut && !dna {
				r = CutAtEOS(tok, r)
			}
			s, err := tok.Decode(r)
			if err != nil {
				return fmt.Errorf("write %s: sample %d: %w", path, i, err)
			}
			switch {
			case dna:
				fmt.Fprintf(w, ">sample_%d %s\n", i, desc)
				for len(s) > 60 {
					fmt.Fprintln(w, s[:60])
					s = s[60:]
				}
				fmt.Fprintln(w, s)
			case jsonl:
				if err := enc.Encode(struct {
					Sample int    `json:"sample"`
					Text   string `json:"text"`
				}{i, s}); err != nil {
					return fmt.Errorf("write %s: %w", path, err)
				}
			default:
				fmt.Fprintln(w, strings.Join(strings.Fields(s), " "))
			}
		}
		return w.Flush()
	})
}

// ReadTexts reads a text samples file: one sample per non-blank line or,
// for a .jsonl file, the "text" field of each line's JSON object.
func ReadTexts(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("samples: %w", err)
	}
	defer f.Close()
	jsonl := strings.HasSuffix(path, ".jsonl")
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	var texts []string
	for line := 1; sc.Scan(); line++ {
		s := sc.Text()
		if strings.TrimSpace(s) == "" {
			continue
		}
		if jsonl {
			var rec struct {
				Text *string `json:"text"`
			}
			if err := json.Unmarshal([]byte(s), &rec); err != nil {
				return nil, fmt.Errorf("samples %s line %d: %w", path, line, err)
			}
			if rec.Text == nil {
				return nil, fmt.Errorf("samples %s line %d: no \"text\" field", path, line)
			}
			s = *rec.Text
		}
		texts = append(texts, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("samples %s: %w", path, err)
	}
	if len(texts) == 0 {
		return nil, fmt.Errorf("samples %s: no sample", path)
	}
	return texts, nil
}

// eachRecord calls fn with each record of a FASTA read as genome.Open
// reads it everywhere in seqdiff: lower case (soft-masked) is the base, an
// IUPAC ambiguity code is N; an empty file, a byte that is not a base and
// a repeated record name are errors naming the file and line.
func eachRecord(path string, fn func(genome.Record) error) error {
	r, err := genome.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}

// ReadDNASamples reads a FASTA of DNA samples (WriteSamples' output or any
// other; plain or gzip) as token ids, one sequence a record, with the
// record names. A record with no A, C, G or T, which has nothing to
// measure, is an error naming it.
func ReadDNASamples(path string) (names []string, seqs [][]uint8, err error) {
	err = eachRecord(path, func(rec genome.Record) error {
		ids := make([]uint8, len(rec.Seq))
		nN, err := EncodeBases(ids, rec.Seq)
		if err != nil { // the reader has normalised every byte already
			return fmt.Errorf("samples %s: record %s: %w", path, rec.Name, err)
		}
		if nN == len(ids) {
			return fmt.Errorf("samples %s: record %s (sample %d): no A, C, G or T in its %d positions", path, rec.Name, len(seqs)+1, len(ids))
		}
		names = append(names, rec.Name)
		seqs = append(seqs, ids)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("samples: %w", err)
	}
	return names, seqs, nil
}

// ReadInfill reads a FASTA of rows to fill in (`seqdiff sample --infill`):
// the N positions of each record are to be generated ([MASK] in the
// returned rows) and its bases are kept. A record with no N is an error
// naming it.
func ReadInfill(path string) (names []string, rows [][]int32, err error) {
	err = eachRecord(path, func(rec genome.Record) error {
		row := make([]int32, len(rec.Seq))
		fill := 0
		for i, c := range rec.Seq {
			if c == 'N' {
				row[i] = vocab.Mask
				fill++
			} else {
				row[i] = vocab.Bases[strings.IndexByte("ACGT", c)]
			}
		}
		if fill == 0 {
			return fmt.Errorf("infill %s record %q: nothing to fill (mark the positions to generate with N)", path, rec.Name)
		}
		names = append(names, rec.Name)
		rows = append(rows, row)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if len(rows) == 0 {
		return nil, nil, fmt.Errorf("infill %s: no record", path)
	}
	return names, rows, nil
}
