package dataprep

import (
	"fmt"

	"github.com/seqdiff/seqdiff/genome"
)

// ReadSplitBED reads a split BED file: chrom, start, end, split (train,
// valid or test), as in the Caduceus/Enformer interval files. genome.ReadBED
// parses it (plain, gzip or BGZF) and gives each interval its line. An
// unknown split name is an error naming the file and line.
func ReadSplitBED(path string) ([]BEDInterval, error) {
	ivs, err := genome.ReadBED(path)
	if err != nil {
		return nil, fmt.Errorf("split BED %w", err)
	}
	out := make([]BEDInterval, len(ivs))
	for i, iv := range ivs {
		out[i] = BEDInterval{Chrom: iv.Chrom, Start: iv.Start, End: iv.End, Line: iv.Line}
		if len(iv.Fields) < 1 {
			return nil, fmt.Errorf("split BED %s:%d: no split column (want chrom, start, end, split)", path, iv.Line)
		}
		s, err := ParseSplit(iv.Fields[0])
		if err != nil {
			return nil, fmt.Errorf("split BED %s:%d: %w", path, iv.Line, err)
		}
		out[i].Split = s
	}
	return out, nil
}
