package dataprep

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	"github.com/seqdiff/seqdiff/genome"
)

// Split indexes the three data splits.
type Split int

// The splits, in the order they appear everywhere (train, valid, test).
const (
	Train Split = iota
	Valid
	Test
	numSplits
)

// SplitNames are the names of the splits as used in file names and the
// manifest.
var SplitNames = [numSplits]string{"train", "valid", "test"}

func (s Split) String() string {
	if s >= 0 && s < numSplits {
		return SplitNames[s]
	}
	return "split(" + strconv.Itoa(int(s)) + ")"
}

// ParseSplit reads a split name; "validation" and "val" are accepted for
// valid.
func ParseSplit(name string) (Split, error) {
	switch strings.ToLower(name) {
	case "train":
		return Train, nil
	case "valid", "validation", "val":
		return Valid, nil
	case "test":
		return Test, nil
	}
	return 0, fmt.Errorf("unknown split %q (want train, valid or test)", name)
}

// BlockSplit returns the split of block index block (bases
// [block*size, (block+1)*size)) of the chromosome whose canonical name
// (genome.CanonicalName) is canon. The rule, fixed so that preps of the same
// genome agree across versions and machines: h = fmix64(FNV-1a-64(canon +
// ":" + decimal(block))), where fmix64 is MurmurHash3's 64-bit finalizer
// (FNV-1a alone mixes its low bits too little for keys that differ in the
// last digit); h%20 == 0 is valid, h%20 == 1 is test, anything else is
// train (90/5/5 on average).
func BlockSplit(canon string, block int) Split {
	h := fnv.New64a()
	h.Write([]byte(canon))
	h.Write([]byte{':'})
	h.Write(strconv.AppendInt(nil, int64(block), 10))
	switch fmix64(h.Sum64()) % 20 {
	case 0:
		return Valid
	case 1:
		return Test
	}
	return Train
}

// fmix64 is the 64-bit finalizer of MurmurHash3.
func fmix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// segment is a stretch [start, end) of one record whose windows all belong
// to split; block is the block index in block mode and -1 otherwise.
type segment struct {
	start, end int
	split      Split
	block      int
}

// splitter cuts a record into segments.
type splitter interface {
	mode() string
	segments(dst []segment, name string, length int) ([]segment, error)
	// finish reports requested names (chromosomes, BED lines) never seen.
	finish() error
}

// blockSplitter assigns fixed-size blocks by BlockSplit.
type blockSplitter struct {
	size      int
	canonical func(string) string
}

func (b *blockSplitter) mode() string { return "blocks" }

func (b *blockSplitter) segments(dst []segment, name string, length int) ([]segment, error) {
	canon := b.canonical(name)
	for i := 0; i*b.size < length; i++ {
		dst = append(dst, segment{start: i * b.size, end: min((i+1)*b.size, length), split: BlockSplit(canon, i), block: i})
	}
	return dst, nil
}

func (b *blockSplitter) finish() error { return nil }

// chromSplitter sends whole records to valid or test by name, the rest to
// train.
type chromSplitter struct {
	canonical func(string) string
	want      map[string]Split // canonical name -> split
	given     map[string]string
	seen      map[string]bool
	names     []string // every record name, for the error message
}

func newChromSplitter(valid, test []string, canonical func(string) string) (*chromSplitter, error) {
	c := &chromSplitter{canonical: canonical, want: map[string]Split{}, given: map[string]string{}, seen: map[string]bool{}}
	for _, l := range []struct {
		names []string
		split Split
	}{{valid, Valid}, {test, Test}} {
		for _, n := range l.names {
			k := canonical(n)
			if s, ok := c.want[k]; ok && s != l.split {
				return nil, fmt.Errorf("chromosome %q is in both --valid-chroms and --test-chroms", n)
			}
			c.want[k] = l.split
			c.given[k] = n
		}
	}
	return c, nil
}

func (c *chromSplitter) mode() string { return "chroms" }

func (c *chromSplitter) segments(dst []segment, name string, length int) ([]segment, error) {
	c.names = append(c.names, name)
	k := c.canonical(name)
	s, ok := c.want[k]
	if !ok {
		s = Train
	} else {
		c.seen[k] = true
	}
	return append(dst, segment{start: 0, end: length, split: s, block: -1}), nil
}

func (c *chromSplitter) finish() error {
	var missing []string
	for k, n := range c.given {
		if !c.seen[k] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		_, err := genome.ResolveName(missing[0], c.names)
		return fmt.Errorf("--valid-chroms/--test-chroms: %w", err)
	}
	return nil
}

// BEDInterval is one line of a split BED file: chrom, start, end (0-based,
// half-open) and split, with its line number for error messages.
type BEDInterval struct {
	Chrom      string
	Start, End int
	Split      Split
	Line       int
}

// bedSplitter generates windows only within the intervals of a split BED.
type bedSplitter struct {
	path      string
	canonical func(string) string
	byChrom   map[string][]BEDInterval // canonical chrom -> merged, sorted
	seen      map[string]bool
}

// newBEDSplitter checks the intervals (no overlap between different splits)
// and merges overlapping or touching intervals of the same split, so that a
// window is generated once and lies wholly in one interval.
func newBEDSplitter(path string, ivs []BEDInterval, canonical func(string) string) (*bedSplitter, error) {
	b := &bedSplitter{path: path, canonical: canonical, byChrom: map[string][]BEDInterval{}, seen: map[string]bool{}}
	for _, iv := range ivs {
		k := canonical(iv.Chrom)
		b.byChrom[k] = append(b.byChrom[k], iv)
	}
	for k, list := range b.byChrom {
		slices.SortStableFunc(list, func(x, y BEDInterval) int {
			if x.Start != y.Start {
				return x.Start - y.Start
			}
			return x.End - y.End
		})
		merged := list[:0:0]
		for _, iv := range list {
			if n := len(merged); n > 0 && iv.Start <= merged[n-1].End {
				last := &merged[n-1]
				if iv.Start < last.End && iv.Split != last.Split {
					first, second := *last, iv
					if first.Line > second.Line {
						first, second = second, first
					}
					return nil, fmt.Errorf("split BED %s:%d: interval %s:%d-%d (%s) overlaps line %d (%s)",
						path, second.Line, second.Chrom, second.Start, second.End, second.Split, first.Line, first.Split)
				}
				if iv.Split == last.Split {
					last.End = max(last.End, iv.End)
					continue
				}
			}
			merged = append(merged, iv)
		}
		b.byChrom[k] = merged
	}
	return b, nil
}

func (b *bedSplitter) mode() string { return "bed" }

func (b *bedSplitter) segments(dst []segment, name string, length int) ([]segment, error) {
	k := b.canonical(name)
	list, ok := b.byChrom[k]
	if !ok {
		return dst, nil
	}
	b.seen[k] = true
	for _, iv := range list {
		if iv.End > length {
			return dst, fmt.Errorf("split BED %s:%d: interval %s:%d-%d ends past the end of record %s (%d bp)",
				b.path, iv.Line, iv.Chrom, iv.Start, iv.End, name, length)
		}
		dst = append(dst, segment{start: iv.Start, end: iv.End, split: iv.Split, block: -1})
	}
	return dst, nil
}

func (b *bedSplitter) finish() error {
	first := BEDInterval{Line: -1}
	for k, list := range b.byChrom {
		if b.seen[k] {
			continue
		}
		for _, iv := range list {
			if first.Line < 0 || iv.Line < first.Line {
				first = iv
			}
		}
	}
	if first.Line >= 0 {
		return fmt.Errorf("split BED %s:%d: unknown chromosome %q (no such record in the FASTA)", b.path, first.Line, first.Chrom)
	}
	return nil
}
