package evaluate

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/seqdiff/seqdiff/vocab"
)

func dnaRow(s string) []uint8 {
	r := make([]uint8, len(s))
	for i, c := range s {
		switch c {
		case 'A':
			r[i] = vocab.A
		case 'C':
			r[i] = vocab.C
		case 'G':
			r[i] = vocab.G
		case 'T':
			r[i] = vocab.T
		case 'N':
			r[i] = vocab.N
		case '-':
			r[i] = vocab.Pad
		case '?':
			r[i] = vocab.Mask
		}
	}
	return r
}

// softmaxAt is p(id) of one position's logits.
func softmaxAt(o []float32, id int) float64 {
	var s float64
	for _, l := range o {
		s += math.Exp(float64(l))
	}
	return math.Exp(float64(o[id])) / s
}

// TestBiKmerByHand: train on the one row ACGT with M = 1 and beta 1 for
// every context pair. The counts are (0,0): A C G T once each; (0,1) with
// the right neighbour: A|C C|G G|T; (1,0) with the left one: A|C C|G G|T;
// (1,1): A,G -> C and C,T -> G. So for A ? G (chain (0,0), (0,1), (1,1)):
//
//	p00 = (c + 1/5) / (4 + 1)      = .24 for each base, .04 for N
//	p01(. | right G) = (c + p00)/2 = C .62, A G T .12, N .02
//	p11(. | A, G) = (c + p01)/2    = C .81, A G T .06, N .01
func TestBiKmerByHand(t *testing.T) {
	k, err := FitBiKmer(1, rowsSplit{dnaRow("ACGT")})
	if err != nil {
		t.Fatal(err)
	}
	if k.Targets != 4 {
		t.Fatalf("targets %d", k.Targets)
	}
	for i := range k.beta {
		k.beta[i] = 1
	}
	V := vocab.DNASize
	check := func(z string, pos int, want map[int]float64) {
		t.Helper()
		row := dnaRow(z)
		zz := make([]int32, len(row))
		for i, id := range row {
			zz[i] = int32(id)
		}
		out := make([]float32, len(zz)*V)
		if err := k.Logits(zz, 1, len(zz), []float32{0.5}, out); err != nil {
			t.Fatal(err)
		}
		o := out[pos*V : (pos+1)*V]
		var sum float64
		for id := range V {
			p := softmaxAt(o, id)
			sum += p
			if math.Abs(p-want[id]) > 1e-6 {
				t.Errorf("%s position %d: p(%s) = %.6f, want %.6f", z, pos, vocab.DNANames[id], p, want[id])
			}
		}
		if math.Abs(sum-1) > 1e-6 {
			t.Errorf("%s position %d: probabilities sum to %v", z, pos, sum)
		}
	}
	check("A?G", 1, map[int]float64{vocab.A: .06, vocab.C: .81, vocab.G: .06, vocab.T: .06, vocab.N: .01})
	// The left neighbour masked: only the right G is seen.
	check("??G", 1, map[int]float64{vocab.A: .12, vocab.C: .62, vocab.G: .12, vocab.T: .12, vocab.N: .02})
	// Both neighbours masked (or row edge): the unigram.
	check("??G", 0, map[int]float64{vocab.A: .24, vocab.C: .24, vocab.G: .24, vocab.T: .24, vocab.N: .04})
	// An N stops the run like a mask: the left A only, (1,0): C|A once.
	check("A?N", 1, map[int]float64{vocab.A: .12, vocab.C: .62, vocab.G: .12, vocab.T: .12, vocab.N: .02})
	// A visible token predicts itself.
	check("A?G", 2, map[int]float64{vocab.G: 1})
	// An unseen context backs off to its parent: A ? A has (0,1) right A
	// unseen, so p01 = p00, and (1,1) unseen too.
	check("A?A", 1, map[int]float64{vocab.A: .24, vocab.C: .24, vocab.G: .24, vocab.T: .24, vocab.N: .04})
	if p, err := k.Prob([]int{0}, []int{2}, 1); err != nil || math.Abs(p-.81) > 1e-12 {
		t.Fatalf("Prob(C | A _ G) = %v, %v", p, err)
	}
	if err := k.Logits([]int32{vocab.A, 40}, 1, 2, nil, make([]float32, 2*V)); err == nil {
		t.Fatal("a token outside the vocabulary was accepted")
	}
	if err := k.Logits([]int32{vocab.A}, 1, 2, nil, make([]float32, 2*V)); err == nil {
		t.Fatal("a short batch was accepted")
	}
	for _, m := range []int{0, MaxBidirOrder + 1} {
		if _, err := FitBiKmer(m, rowsSplit{}); err == nil {
			t.Fatalf("M = %d accepted", m)
		}
	}
}

// TestBiKmerCounts: the summed tables hold, for every pair (l, r), exactly
// the positions with at least l visible bases before and r after them,
// counted directly.
func TestBiKmerCounts(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const M = 3
	var rows rowsSplit
	for range 20 {
		r := make([]uint8, 40)
		for j := range r {
			r[j] = vocab.A + uint8(rng.IntN(4))
			if rng.IntN(15) == 0 {
				r[j] = vocab.N
			}
		}
		if rng.IntN(3) == 0 {
			for j := 30; j < 40; j++ {
				r[j] = vocab.Pad
			}
		}
		rows = append(rows, r)
	}
	k, err := FitBiKmer(M, rows)
	if err != nil {
		t.Fatal(err)
	}
	base := func(id uint8) bool { return id >= vocab.A && id <= vocab.T }
	for l := 0; l <= M; l++ {
		for r := 0; r <= M; r++ {
			want := make([]uint32, len(k.counts[k.node(l, r)]))
			for _, row := range rows {
				for i, id := range row {
					w := symbol(id)
					if w < 0 {
						continue
					}
					var L, R uint32
					ok := true
					for d := l; d >= 1; d-- { // oldest first: the nearest ends least significant
						if i-d < 0 || !base(row[i-d]) {
							ok = false
							break
						}
						L = L<<2 | uint32(row[i-d]-vocab.A)
					}
					for d := r; d >= 1 && ok; d-- {
						if i+d >= len(row) || !base(row[i+d]) {
							ok = false
							break
						}
						R = R<<2 | uint32(row[i+d]-vocab.A)
					}
					if ok {
						want[(L<<(2*r)|R)*biS+uint32(w)]++
					}
				}
			}
			got := k.counts[k.node(l, r)]
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("(l, r) = (%d, %d) entry %d: %d, want %d", l, r, i, got[i], want[i])
				}
			}
		}
	}
}

// TestBiKmerTune: on a periodic sequence the context decides the centre,
// and the tuned betas trust the counts (small betas), where add-one
// smoothing would not.
func TestBiKmerTune(t *testing.T) {
	row := make([]uint8, 400)
	for i := range row {
		row[i] = vocab.A + uint8(i%4)
	}
	k, err := FitBiKmer(2, rowsSplit{row})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := k.Prob([]int{0}, []int{2}, 1)
	if err := k.TuneBeta(rowsSplit{row[:100]}); err != nil {
		t.Fatal(err)
	}
	after, _ := k.Prob([]int{0}, []int{2}, 1)
	if !(after > before) || after < 0.999 {
		t.Fatalf("p(C | A _ G): %.6f before tuning, %.6f after", before, after)
	}
	if b := k.Beta(0, 0); !(b > 0) || math.IsInf(b, 0) {
		t.Fatalf("beta(0, 0) = %v", b)
	}
	if err := k.TuneBeta(rowsSplit{dnaRow("---")}); err == nil {
		t.Fatal("tuning on nothing accepted")
	}
}
