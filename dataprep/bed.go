package dataprep

import (
	"bufio"
	"bytes"
	"fmt"
	"os"

	"github.com/seqdiff/seqdiff/genome"
)

// ReadSplitBED reads a split BED file: chrom, start, end, split (train,
// valid or test), as in the Caduceus/Enformer interval files. genome.ReadBED
// parses it; the line number of each interval (for error messages) comes
// from a second look at the file's data lines. An unknown split name is an
// error naming the file and line.
func ReadSplitBED(path string) ([]BEDInterval, error) {
	ivs, err := genome.ReadBED(path)
	if err != nil {
		return nil, fmt.Errorf("split BED %w", err)
	}
	lines := bedDataLines(path, len(ivs))
	out := make([]BEDInterval, len(ivs))
	for i, iv := range ivs {
		out[i] = BEDInterval{Chrom: iv.Chrom, Start: iv.Start, End: iv.End, Line: lines[i]}
		if len(iv.Fields) < 1 {
			return nil, fmt.Errorf("split BED %s:%d: no split column (want chrom, start, end, split)", path, lines[i])
		}
		s, err := ParseSplit(iv.Fields[0])
		if err != nil {
			return nil, fmt.Errorf("split BED %s:%d: %w", path, lines[i], err)
		}
		out[i].Split = s
	}
	return out, nil
}

// bedDataLines returns the 1-based line numbers of the n data lines of a BED
// file (lines that are not blank, comments, track or browser lines). When
// the file cannot be matched to n such lines (say it is compressed), the
// numbers are the interval ordinals, which the messages then still locate.
func bedDataLines(path string, n int) []int {
	lines := make([]int, 0, n)
	if f, err := os.Open(path); err == nil {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for ln := 1; sc.Scan(); ln++ {
			// The same skip rule as genome.ReadBED.
			b := bytes.TrimRight(sc.Bytes(), "\r")
			if len(bytes.TrimSpace(b)) == 0 || b[0] == '#' || isBEDHeader(b, "track") || isBEDHeader(b, "browser") {
				continue
			}
			lines = append(lines, ln)
		}
		f.Close()
	}
	if len(lines) != n {
		lines = lines[:0]
		for i := range n {
			lines = append(lines, i+1)
		}
	}
	return lines
}

func isBEDHeader(line []byte, word string) bool {
	return bytes.HasPrefix(line, []byte(word)) && (len(line) == len(word) || line[len(word)] == ' ' || line[len(word)] == '\t')
}
