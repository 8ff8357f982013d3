package finetune

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"

	"github.com/seqdiff/seqdiff/internal/assets"
)

// HumanOrWormOptions shape the derived human-or-worm task.
type HumanOrWormOptions struct {
	PerClass int    // windows per class (default 1000)
	Len      int    // window length in bases (default 200)
	Seed     uint64 // which windows are drawn (default 0)
}

// HumanOrWorm writes a TSV (header "seq\tlabel", labels "human" and
// "worm") of windows from the embedded human chr22 and C. elegans chrX
// slices, as Genomic Benchmarks' demo_human_or_worm: each slice is cut
// into non-overlapping windows of Len bases from its start, windows holding
// an N are dropped, and PerClass windows of each species are drawn without
// replacement by a PCG generator seeded (Seed, 0x68756d616e); rows are
// written in a seeded shuffled order. It returns the rows written.
func HumanOrWorm(w io.Writer, o HumanOrWormOptions) (int, error) {
	if o.PerClass == 0 {
		o.PerClass = 1000
	}
	if o.Len == 0 {
		o.Len = 200
	}
	if o.PerClass < 1 || o.Len < 1 {
		return 0, fmt.Errorf("human-or-worm: %d windows of %d bases: both must be >= 1", o.PerClass, o.Len)
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x68756d616e))
	type row struct{ seq, label string }
	var rows []row
	for _, sp := range []struct{ asset, label string }{{assets.Human, "human"}, {assets.Worm, "worm"}} {
		seq, err := embeddedSeq(sp.asset)
		if err != nil {
			return 0, err
		}
		var wins []string
		for s := 0; s+o.Len <= len(seq); s += o.Len {
			w := seq[s : s+o.Len]
			if !strings.ContainsAny(w, "Nn") {
				wins = append(wins, strings.ToUpper(w))
			}
		}
		if len(wins) < o.PerClass {
			return 0, fmt.Errorf("human-or-worm: %s has %d N-free windows of %d bases, fewer than the %d asked", sp.asset, len(wins), o.Len, o.PerClass)
		}
		for _, i := range rng.Perm(len(wins))[:o.PerClass] {
			rows = append(rows, row{wins[i], sp.label})
		}
	}
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	bw := bufio.NewWriter(w)
	bw.WriteString("seq\tlabel\n")
	for _, r := range rows {
		bw.WriteString(r.seq + "\t" + r.label + "\n")
	}
	return len(rows), bw.Flush()
}

// embeddedSeq is the concatenated sequence of an embedded FASTA (gzip or
// BGZF, one or more records).
func embeddedSeq(name string) (string, error) {
	b, err := assets.Bytes(name)
	if err != nil {
		return "", err
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	var sb strings.Builder
	for _, line := range bytes.Split(raw, []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		if len(line) > 0 && line[0] != '>' {
			sb.Write(line)
		}
	}
	return sb.String(), nil
}
