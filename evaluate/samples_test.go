package evaluate

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/vocab"
)

// dna is s as token ids: A, C, G, T, anything else N.
func dna(ss ...string) [][]uint8 {
	var out [][]uint8
	for _, s := range ss {
		ids := make([]uint8, len(s))
		for i := range ids {
			switch s[i] {
			case 'A':
				ids[i] = vocab.A
			case 'C':
				ids[i] = vocab.C
			case 'G':
				ids[i] = vocab.G
			case 'T':
				ids[i] = vocab.T
			default:
				ids[i] = vocab.N
			}
		}
		out = append(out, ids)
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

func TestJSDivergence(t *testing.T) {
	// m = (3/4, 1/4): JS = 1/2 log2(4/3) + 1/4 log2(2/3) + 1/4 log2(2).
	half := 0.5*math.Log2(4.0/3) + 0.25*math.Log2(2.0/3) + 0.25
	for _, c := range []struct {
		p, q []float64
		js   float64
	}{
		{[]float64{1, 2, 3}, []float64{10, 20, 30}, 0}, // scale does not matter
		{[]float64{1, 0}, []float64{0, 5}, 1},
		{[]float64{1, 0}, []float64{1, 1}, half},
	} {
		js, ok := JSDivergence(c.p, c.q)
		if !ok || !near(js, c.js) {
			t.Errorf("JS(%v, %v) = %v, %v; want %v", c.p, c.q, js, ok, c.js)
		}
		if js2, _ := JSDivergence(c.q, c.p); !near(js, js2) {
			t.Errorf("JS not symmetric: %v, %v", js, js2)
		}
	}
	if _, ok := JSDivergence([]float64{0, 0}, []float64{1, 0}); ok {
		t.Error("JS of an empty distribution: ok")
	}
}

// deBruijn3 is a linear de Bruijn sequence of order 3 over ACGT: 66 bases
// holding each of the 64 3-mers once.
func deBruijn3() string {
	const n, k = 3, 4
	a := make([]int, k*n)
	var seq []int
	var db func(t, p int)
	db = func(t, p int) {
		if t > n {
			if n%p == 0 {
				seq = append(seq, a[1:p+1]...)
			}
			return
		}
		a[t] = a[t-p]
		db(t+1, p)
		for j := a[t-p] + 1; j < k; j++ {
			a[t] = j
			db(t+1, t)
		}
	}
	db(1, 1)
	seq = append(seq, seq[:n-1]...) // unwrap the cycle
	var b strings.Builder
	for _, x := range seq {
		b.WriteByte("ACGT"[x])
	}
	return b.String()
}

func stats(ss ...string) SetStats { return setStats(dna(ss...), newSpectra()) }

func TestSetStats(t *testing.T) {
	if s := stats("GGCC"); s.GCMean != 1 || s.GCStd != 0 {
		t.Errorf("GC of GGCC: %v ± %v", s.GCMean, s.GCStd)
	}
	// GC 1 and 0: mean 1/2, sample std sqrt(1/2).
	if s := stats("GGCC", "ATTA"); !near(s.GCMean, 0.5) || !near(s.GCStd, math.Sqrt(0.5)) {
		t.Errorf("GC of GGCC, ATTA: %v ± %v", s.GCMean, s.GCStd)
	}
	// N is not a base: GC over A, C, G, T.
	if s := stats("GNNA"); s.GCMean != 0.5 || s.NShare != 0.5 || s.Bases != 2 || s.MeanLen != 4 {
		t.Errorf("GNNA: %+v", s)
	}
	for _, c := range []struct {
		seq   string
		share float64
	}{
		{"AAAAAACG", 6.0 / 8},
		{"AAAAACGT", 0},     // a run of 5
		{"AAAAAAAAGC", 0.8}, // a run of 8
		{"AAANAAAC", 0},     // N breaks the run
		{"CCCCCCTTTTTT", 1}, // two runs of 6
		{"GGGGGGNNNN", 1},   // share of the bases, not of the positions
		{"ACGTACGTACGT", 0},
	} {
		if s := stats(c.seq); !near(s.HomopolymerShare, c.share) {
			t.Errorf("homopolymer share of %s: %v, want %v", c.seq, s.HomopolymerShare, c.share)
		}
	}
	db := deBruijn3()
	for _, c := range []struct {
		seq string
		h   float64
	}{
		{"AAAAAAAAAA", 0}, // one 3-mer repeated
		// ACG 5 times, CGA and GAC 4 times each.
		{"ACGACGACGACGACG", -(5.0/13*math.Log2(5.0/13) + 2*4.0/13*math.Log2(4.0/13))},
		{db, 6}, // every 3-mer once
	} {
		s := stats(c.seq)
		if !near(s.Entropy3Mean, c.h) {
			t.Errorf("3-mer entropy of %s: %v, want %v", c.seq, s.Entropy3Mean, c.h)
		}
	}
	if len(db) != 66 {
		t.Fatalf("de Bruijn sequence of %d bases", len(db))
	}
	// Entropy over the sequences with a 3-mer: AC has none.
	if s := stats("AAAA", "AC"); s.Entropy3Mean != 0 || s.Entropy3Std != 0 || s.GCStd == 0 {
		t.Errorf("AAAA, AC: %+v", s)
	}
}

func TestSpectraSkipN(t *testing.T) {
	sp := newSpectra()
	setStats(dna("ACGTNACGT", "AC"), sp)
	for k, want := range []float64{0, 10, 7, 4, 2, 0, 0} {
		if k == 0 {
			continue
		}
		got := 0.0
		for _, c := range sp[k] {
			got += c
		}
		if got != want {
			t.Errorf("%d-mers: %v, want %v", k, got, want)
		}
	}
	// ACGT at k = 4: code 0b00011011.
	if sp[4][0x1b] != 2 {
		t.Errorf("ACGT counted %v times", sp[4][0x1b])
	}
}

func TestCompareSamples(t *testing.T) {
	ref := dna("ACGTTGCAAC", "GGATCCTTAG", "TTTACGGACA", "CAGTAGCTAA")
	q, err := CompareSamples(ref, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k := 1; k <= SampleK; k++ {
		if js, ok := q.KmerJS[k]; !ok || js != 0 {
			t.Errorf("k %d: JS of a set with itself %v, %v", k, js, ok)
		}
	}
	if q.Floor != "halves" || q.FloorSequences != [2]int{2, 2} || len(q.KmerJSFloor) != SampleK || q.JSUnit != "bits" {
		t.Errorf("floor %q %v %v", q.Floor, q.FloorSequences, q.KmerJSFloor)
	}
	if q.Samples != q.Reference {
		t.Errorf("the same set, different stats: %+v, %+v", q.Samples, q.Reference)
	}
	// Disjoint spectra: all A against all C, and a floor that is the
	// reference itself (JS 0).
	q, err = CompareSamples(dna("AAAAAAAA"), dna("CCCCCCCC"), dna("CCCCCCCC"))
	if err != nil {
		t.Fatal(err)
	}
	for k := 1; k <= SampleK; k++ {
		if q.KmerJS[k] != 1 || q.KmerJSFloor[k] != 0 {
			t.Errorf("k %d: JS %v, floor %v; want 1, 0", k, q.KmerJS[k], q.KmerJSFloor[k])
		}
	}
	if q.Floor != "disjoint" || q.FloorSequences != [2]int{1, 1} {
		t.Errorf("floor %q %v", q.Floor, q.FloorSequences)
	}
	// Too short for 6-mers on one side: no k = 5, 6; one reference: no floor.
	q, err = CompareSamples(dna("ACGT"), dna("ACGTACGT"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(q.KmerJS) != 4 || q.Floor != "none" || len(q.KmerJSFloor) != 0 {
		t.Errorf("short samples: %v, floor %q %v", q.KmerJS, q.Floor, q.KmerJSFloor)
	}
	// Generated rows are int32 ids.
	if _, err := CompareSamples([][]int32{{vocab.A, vocab.C}}, dna("AC"), nil); err != nil {
		t.Error(err)
	}
	if _, err := CompareSamples([][]uint8(nil), ref, nil); err == nil {
		t.Error("no samples: no error")
	}
}

// indexSplit is a Split of n rows of L ids; row r holds r at every position.
type indexSplit struct{ n, L int }

func (s indexSplit) Rows() int { return s.n }
func (s indexSplit) Row(i int) []uint8 {
	r := make([]uint8, s.L)
	for j := range r {
		r[j] = uint8(i)
	}
	return r
}

// rowsOf is the row each block of L positions of seq came from.
func rowIndices(seq []uint8, L int) []int {
	var rs []int
	for i := 0; i < len(seq); i += L {
		rs = append(rs, int(seq[i]))
	}
	return rs
}

func TestRealWindows(t *testing.T) {
	// Twice what the samples need: two disjoint sets, interleaved, spread
	// over the split.
	ref, floor, err := RealWindows(indexSplit{20, 4}, 1, []int{4, 3, 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(ref) != 3 || len(floor) != 3 {
		t.Fatalf("%d, %d sequences", len(ref), len(floor))
	}
	seen := map[int]bool{}
	var starts []int
	for j := range 3 {
		for _, s := range [][]uint8{ref[j], floor[j]} {
			if len(s) != []int{4, 3, 4}[j] {
				t.Errorf("sequence %d: length %d", j, len(s))
			}
			r := int(s[0])
			if seen[r] {
				t.Errorf("row %d used twice", r)
			}
			seen[r] = true
			starts = append(starts, r)
		}
	}
	if want := []int{0, 3, 6, 10, 13, 16}; !slices.Equal(starts, want) {
		t.Errorf("rows %v, want %v (spread over 20)", starts, want)
	}
	// Past the row length: rows step apart, joined and cut.
	ref, floor, err = RealWindows(indexSplit{5, 4}, 2, []int{10})
	if err != nil {
		t.Fatal(err)
	}
	if floor != nil || len(ref) != 1 || len(ref[0]) != 10 || !slices.Equal(rowIndices(ref[0], 4), []int{0, 2, 4}) {
		t.Errorf("joined: %v, floor %v", ref, floor)
	}
	// Short split: the lengths that fit, no floor.
	ref, floor, err = RealWindows(indexSplit{3, 4}, 1, []int{8, 4, 4})
	if err != nil || len(ref) != 2 || floor != nil {
		t.Errorf("short split: %d sequences, floor %v, %v", len(ref), floor, err)
	}
	for _, c := range []struct {
		s    Split
		lens []int
		msg  string
	}{
		{indexSplit{2, 4}, []int{12}, "hold less than a sequence of 12"},
		{indexSplit{0, 4}, []int{4}, "no rows"},
		{indexSplit{2, 4}, []int{0}, "length 0"},
		{indexSplit{2, 4}, nil, "no lengths"},
	} {
		if _, _, err := RealWindows(c.s, 1, c.lens); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%v %v: %v, want %q", c.s, c.lens, err, c.msg)
		}
	}
}
