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

// ReadDNASamples reads a FASTA of DNA samples (WriteSamples' output or any
// other; plain or gzip) as token ids, one sequence a record, with the
// record names. Lower case reads as the base (soft-masking), IUPAC
// ambiguity codes as N. genome.Reader's rules hold: an empty file, a byte
// that is not a base and a repeated record name are errors naming the file
// and line; so is a record with no A, C, G or T, which has nothing to
// measure.
func ReadDNASamples(path string) (names []string, seqs [][]uint8, err error) {
	r, err := genome.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("samples: %w", err)
	}
	defer r.Close()
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("samples: %w", err)
		}
		ids := make([]uint8, len(rec.Seq))
		nN, err := EncodeBases(ids, rec.Seq)
		if err != nil { // the reader has normalised every byte already
			return nil, nil, fmt.Errorf("samples %s: record %s: %w", path, rec.Name, err)
		}
		if nN == len(ids) {
			return nil, nil, fmt.Errorf("samples %s: record %s (sample %d): no A, C, G or T in its %d positions", path, rec.Name, len(seqs)+1, len(ids))
		}
		names = append(names, rec.Name)
		seqs = append(seqs, ids)
	}
	return names, seqs, nil
}
