package evaluate

import (
	"fmt"
	"math"

	"github.com/seqdiff/seqdiff/vocab"
)

// SampleK is the largest k of the k-mer spectra CompareSamples compares
// (k = 1..SampleK; 4^6 = 4096 cells at k = 6).
const SampleK = 6

// HomopolymerLen is the shortest run of one base that SetStats counts as a
// homopolymer.
const HomopolymerLen = 6

// SetStats describes one set of DNA sequences (generated samples or the
// real windows beside them) by numbers a user can read against real DNA.
// Only A, C, G and T count as bases: N (and any other id) is skipped by
// every statistic but NShare and breaks k-mers and homopolymer runs.
type SetStats struct {
	Sequences int     `json:"sequences"`
	MeanLen   float64 `json:"mean_len"`   // positions per sequence, N included
	Bases     int64   `json:"acgt_bases"` // A, C, G and T positions
	NShare    float64 `json:"n_share"`    // share of positions that are not A, C, G or T
	// GC content (G+C over A+C+G+T) per sequence: mean and sample standard
	// deviation (n-1; 0 for one sequence) over the sequences with a base.
	GCMean float64 `json:"gc_mean"`
	GCStd  float64 `json:"gc_std"`
	// Shannon entropy in bits of each sequence's own distribution of
	// overlapping 3-mers (6 at most: all 64 equally often; 0: one 3-mer
	// repeated), mean and sample standard deviation over the sequences
	// with a 3-mer. Short sequences read lower: the length is the same on
	// both sides of a comparison for that reason.
	Entropy3Mean float64 `json:"entropy3_mean"`
	Entropy3Std  float64 `json:"entropy3_std"`
	// HomopolymerShare is the share of bases, pooled over the set, that lie
	// in runs of one base at least HomopolymerLen long.
	HomopolymerShare float64 `json:"homopolymer6_share"`
	// The NLL under an AR scorer, filled by the caller that has one (seqdiff
	// eval samples --scorer): nats per scored token (every position but
	// each scorer window's first, N included), and the tokens scored.
	ScorerNLL    *float64 `json:"scorer_nll_per_base,omitempty"`
	ScorerTokens int64    `json:"scorer_tokens,omitempty"`
}

// SampleQuality compares generated DNA with real DNA: the statistics of
// each set, and the Jensen-Shannon divergence of their pooled k-mer
// spectra beside the same divergence between two sets of real sequences
// (the floor: what sampling noise alone gives at this size).
type SampleQuality struct {
	Samples   SetStats `json:"samples"`
	Reference SetStats `json:"reference"`
	// KmerJS maps k (1..SampleK) to JS(samples, reference) in bits, in
	// [0, 1]: 0 for the same k-mer frequencies, 1 for spectra with no
	// k-mer in common. A k missing from the map had no k-mer on one side.
	KmerJS map[int]float64 `json:"kmer_js"`
	// KmerJSFloor is the same divergence between two sets of real
	// sequences: the floor argument of CompareSamples and the reference, or
	// the reference's two halves (Floor says which). JS of a finite sample
	// is above 0 even for the same source, and more so at larger k; a
	// KmerJS near the floor is as close to real as this many bases can
	// show. Empty (Floor "none") for one reference sequence and no floor.
	KmerJSFloor map[int]float64 `json:"kmer_js_floor"`
	// Floor is "disjoint" (a second real set of the samples' size and
	// lengths: the floor at this sample size) or "halves" (the reference
	// split in two, alternate sequences: half the size, so a higher floor
	// than n against n), or "none".
	Floor          string `json:"floor"`
	FloorSequences [2]int `json:"floor_sequences"` // sequences on each side of the floor
	JSUnit         string `json:"kmer_js_unit"`    // "bits"
}

// spectra are the pooled k-mer counts of a set of sequences, k = 1..SampleK.
type spectra [SampleK + 1][]float64

func newSpectra() *spectra {
	var s spectra
	for k := 1; k <= SampleK; k++ {
		s[k] = make([]float64, 1<<(2*k))
	}
	return &s
}

// base is the 2-bit code of id (A 0, C 1, G 2, T 3), or -1 for anything else.
func base[I vocab.ID](id I) int {
	if id >= vocab.A && id <= vocab.T {
		return int(id) - vocab.A
	}
	return -1
}

// setStats computes SetStats of seqs (token ids of the DNA vocabulary) and
// adds their k-mers to sp.
func setStats[I vocab.ID](seqs [][]I, sp *spectra) SetStats {
	st := SetStats{Sequences: len(seqs)}
	var positions, homo int64
	var gcs, ents []float64
	var tri [64]float64
	for _, seq := range seqs {
		positions += int64(len(seq))
		var acgt, gc int64
		code, valid := 0, 0 // the last bases as 2-bit codes, and how many are valid
		run, prev := 0, -1  // the current homopolymer run
		tri = [64]float64{}
		var ntri float64
		for _, id := range seq {
			b := base(id)
			if b < 0 {
				valid, run, prev = 0, 0, -1
				continue
			}
			acgt++
			if b == 1 || b == 2 {
				gc++
			}
			if b == prev {
				run++
			} else {
				run, prev = 1, b
			}
			// A run counts from the base that makes it long enough, then
			// each base after.
			switch {
			case run == HomopolymerLen:
				homo += HomopolymerLen
			case run > HomopolymerLen:
				homo++
			}
			code = (code<<2 | b) & (1<<(2*SampleK) - 1)
			valid = min(valid+1, SampleK)
			for k := 1; k <= valid; k++ {
				sp[k][code&(1<<(2*k)-1)]++
			}
			if valid >= 3 {
				tri[code&63]++
				ntri++
			}
		}
		st.Bases += acgt
		if acgt > 0 {
			gcs = append(gcs, float64(gc)/float64(acgt))
		}
		if ntri > 0 {
			h := 0.0
			for _, c := range tri {
				if c > 0 {
					p := c / ntri
					h -= p * math.Log2(p)
				}
			}
			ents = append(ents, h)
		}
	}
	if len(seqs) > 0 {
		st.MeanLen = float64(positions) / float64(len(seqs))
	}
	if positions > 0 {
		st.NShare = float64(positions-st.Bases) / float64(positions)
	}
	if st.Bases > 0 {
		st.HomopolymerShare = float64(homo) / float64(st.Bases)
	}
	st.GCMean, st.GCStd = meanStd(gcs)
	st.Entropy3Mean, st.Entropy3Std = meanStd(ents)
	return st
}

// meanStd is the mean and sample standard deviation (n-1; 0 for fewer
// than two values) of xs, as Summarize gives them; 0, 0 for none.
func meanStd(xs []float64) (float64, float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	s, _ := Summarize(xs) // no NaN: every value is a ratio of counts
	return s.Mean, s.Std
}

// JSDivergence is the Jensen-Shannon divergence in bits, in [0, 1], between
// the distributions p and q given as counts over the same cells (scaled to
// sum to 1 each). ok is false when either has no count.
func JSDivergence(p, q []float64) (js float64, ok bool) {
	var sp, sq float64
	for i := range p {
		sp += p[i]
		sq += q[i]
	}
	if sp <= 0 || sq <= 0 {
		return 0, false
	}
	for i := range p {
		a, b := p[i]/sp, q[i]/sq
		m := (a + b) / 2
		if a > 0 {
			js += a / 2 * math.Log2(a/m)
		}
		if b > 0 {
			js += b / 2 * math.Log2(b/m)
		}
	}
	// Rounding can leave a hair outside [0, 1].
	return min(max(js, 0), 1), true
}

// kmerJS is JS(a, b) for every k with counts on both sides.
func kmerJS(a, b *spectra) map[int]float64 {
	m := map[int]float64{}
	for k := 1; k <= SampleK; k++ {
		if js, ok := JSDivergence(a[k], b[k]); ok {
			m[k] = js
		}
	}
	return m
}

// CompareSamples describes samples and ref (sequences of DNA token ids,
// vocab.A..vocab.N, such as train.Generate's rows and prep rows; any other
// id counts as N) with SetStats and compares
// their pooled k-mer spectra for k = 1..SampleK by Jensen-Shannon
// divergence. floor is a second set of real sequences, disjoint from ref
// and of the samples' number and lengths (RealWindows gives both); its JS
// against ref is the floor at this sample size. With no floor the
// reference's alternate sequences are split in two instead (the floor at
// half the size, so higher); a reference of one sequence gives none.
// Samples and reference should have the same lengths (3-mer entropy and
// the spread of GC depend on it). It fails on an empty set.
func CompareSamples[S, R vocab.ID](samples [][]S, ref, floor [][]R) (SampleQuality, error) {
	if len(samples) == 0 || len(ref) == 0 {
		return SampleQuality{}, fmt.Errorf("compare samples: %d samples, %d reference sequences: need both", len(samples), len(ref))
	}
	ss, rs := newSpectra(), newSpectra()
	q := SampleQuality{JSUnit: "bits", Samples: setStats(samples, ss), Reference: setStats(ref, rs)}
	q.KmerJS = kmerJS(ss, rs)
	switch {
	case len(floor) > 0:
		fs := newSpectra()
		setStats(floor, fs)
		q.Floor, q.FloorSequences = "disjoint", [2]int{len(ref), len(floor)}
		q.KmerJSFloor = kmerJS(rs, fs)
	case len(ref) >= 2:
		var h [2][][]R
		for i, s := range ref {
			h[i%2] = append(h[i%2], s)
		}
		a, b := newSpectra(), newSpectra()
		setStats(h[0], a)
		setStats(h[1], b)
		q.Floor, q.FloorSequences = "halves", [2]int{len(h[0]), len(h[1])}
		q.KmerJSFloor = kmerJS(a, b)
	default:
		q.Floor, q.KmerJSFloor = "none", map[int]float64{}
	}
	return q, nil
}

// RealWindows picks real sequences from s, a split of DNA rows (a prep
// split, every row the same length), to stand beside samples of lengths
// lens: ref[j] is lens[j] long, from rows spread evenly over the whole
// split (a split is in genome order, so its first rows are one region). A
// length past the row length is made of non-overlapping rows that follow
// each other (step rows apart: ceil(seq_len / stride), 1 for a prep with
// stride seq_len, where they are adjacent windows of the genome) joined and
// cut. When the split holds twice what lens need, floor is a second set of
// the same lengths from rows disjoint from ref's, interleaved with them;
// else floor is nil, and when the split holds less than lens need, ref
// covers the longest prefix of lens that fits. It fails when not even
// lens[0] fits or a length is below 1.
func RealWindows(s Split, step int, lens []int) (ref, floor [][]uint8, err error) {
	R := s.Rows()
	if R == 0 {
		return nil, nil, fmt.Errorf("real windows: the split has no rows")
	}
	if len(lens) == 0 {
		return nil, nil, fmt.Errorf("real windows: no lengths asked for")
	}
	L := len(s.Row(0))
	step = max(step, 1)
	spans := make([]int64, len(lens)) // rows each length takes, from its first to its last
	for j, n := range lens {
		if n < 1 || L < 1 {
			return nil, nil, fmt.Errorf("real windows: length %d of sequence %d from rows of %d", n, j+1, L)
		}
		spans[j] = int64((n+L-1)/L-1)*int64(step) + 1
	}
	var need int64
	m := 0 // lengths that fit
	for _, sp := range spans {
		if need+sp > int64(R) {
			break
		}
		need += sp
		m++
	}
	if m == 0 {
		return nil, nil, fmt.Errorf("real windows: the split's %d rows of %d hold less than a sequence of %d", R, L, lens[0])
	}
	// Slots in the order they lie in the split: ref[0], floor[0], ref[1], …
	sets := 1
	if m == len(lens) && 2*need <= int64(R) {
		sets = 2
	}
	total := need * int64(sets)
	out := make([][][]uint8, sets)
	var off int64
	for j := range m {
		for set := range sets {
			// Scaled by R/total >= 1: slots never overlap and the last
			// ends within the split.
			start := int(off * int64(R) / total)
			seq := make([]uint8, 0, lens[j])
			for r := start; len(seq) < lens[j]; r += step {
				seq = append(seq, s.Row(r)[:min(L, lens[j]-len(seq))]...)
			}
			out[set] = append(out[set], seq)
			off += spans[j]
		}
	}
	if sets == 2 {
		return out[0], out[1], nil
	}
	return out[0], nil, nil
}
