package evaluate

import (
	"bufio"
	"compress/gzip"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/seqdiff/seqdiff/internal/testenv"
)

// TestKmerHandCounts checks the counts, the context breaks and add-alpha on
// a row small enough to count by hand.
func TestKmerHandCounts(t *testing.T) {
	m, err := NewKmer(KmerConfig{Order: 1, Smoothing: AddAlpha, Alpha: 1})
	if err != nil {
		t.Fatal(err)
	}
	// A C A PAD A C N A: PAD and N break the context and are not scored.
	m.Add([]uint8{7, 8, 7, 4, 7, 8, 11, 7})
	if m.Targets != 6 {
		t.Fatalf("targets %d want 6", m.Targets)
	}
	if got := m.counts[0][:4]; got[0] != 4 || got[1] != 2 || got[2] != 0 || got[3] != 0 {
		t.Fatalf("unigram counts %v", got)
	}
	// Order-1 context A (0): followed by C twice.
	if got := m.counts[1][0:4]; got[1] != 2 || got[0]+got[2]+got[3] != 0 {
		t.Fatalf("counts after A %v", got)
	}
	// Unigram with alpha=1, S=4: (c_w + 4*alpha*1/4)/(6+4).
	p, _ := m.Prob(nil, 0)
	if !close(p, 5.0/10, 1e-12) {
		t.Fatalf("p(A) %v want 0.5", p)
	}
	// After A: (c(A,C)=2 + 4*p0(C)) / (2 + 4), p0(C) = 3/10.
	p, _ = m.Prob([]int{0}, 1)
	if !close(p, (2+4*0.3)/6, 1e-12) {
		t.Fatalf("p(C|A) %v", p)
	}
}

// TestKmerNormalised checks that every smoothing gives a distribution that
// sums to one in seen and unseen contexts.
func TestKmerNormalised(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	row := make([]uint8, 3000)
	for i := range row {
		row[i] = uint8(7 + rng.IntN(5))
	}
	for _, scoreN := range []bool{false, true} {
		for _, sm := range []Smoothing{Discount, KneserNey, WittenBell, AddAlpha} {
			m, _ := NewKmer(KmerConfig{Order: 5, Smoothing: sm, ScoreN: scoreN})
			m.Add(row)
			for trial := 0; trial < 50; trial++ {
				ctx := make([]int, rng.IntN(7))
				for i := range ctx {
					ctx[i] = rng.IntN(4)
				}
				var s float64
				for w := 0; w < m.S; w++ {
					p, err := m.Prob(ctx, w)
					if err != nil || p <= 0 {
						t.Fatalf("%v: p %v err %v", sm, p, err)
					}
					s += p
				}
				if !close(s, 1, 1e-9) {
					t.Fatalf("%v scoreN=%v context %v: sum %v", sm, scoreN, ctx, s)
				}
			}
		}
	}
}

// chain2 is a second-order Markov chain over ACGT.
type chain2 struct {
	trans [16][4]float64 // trans[previous two bases][next]
	h     float64        // entropy rate under the stationary distribution, nats
}

func newChain2(rng *rand.Rand) *chain2 {
	c := &chain2{}
	for ctx := range c.trans {
		var s float64
		for w := range c.trans[ctx] {
			c.trans[ctx][w] = 0.05 + rng.Float64()*rng.Float64()
			s += c.trans[ctx][w]
		}
		for w := range c.trans[ctx] {
			c.trans[ctx][w] /= s
		}
	}
	pi := make([]float64, 16) // stationary distribution of pair states
	for i := range pi {
		pi[i] = 1.0 / 16
	}
	for it := 0; it < 2000; it++ {
		next := make([]float64, 16)
		for ctx := range pi {
			for w := 0; w < 4; w++ {
				next[(ctx<<2|w)&15] += pi[ctx] * c.trans[ctx][w]
			}
		}
		pi = next
	}
	for ctx := range pi {
		for _, p := range c.trans[ctx] {
			c.h -= pi[ctx] * p * math.Log(p)
		}
	}
	return c
}

// rows draws rows of token ids, each started at (near) stationarity.
func (c *chain2) rows(rng *rand.Rand, n, length int) [][]uint8 {
	out := make([][]uint8, n)
	for r := range out {
		row := make([]uint8, length)
		ctx := rng.IntN(16)
		for i := 0; i < 100; i++ {
			ctx = (ctx<<2 | draw(rng, c.trans[ctx][:])) & 15
		}
		for i := range row {
			w := draw(rng, c.trans[ctx][:])
			row[i] = uint8(7 + w)
			ctx = (ctx<<2 | w) & 15
		}
		out[r] = row
	}
	return out
}

func draw(rng *rand.Rand, p []float64) int {
	u := rng.Float64()
	for i, q := range p {
		if u < q {
			return i
		}
		u -= q
	}
	return len(p) - 1
}

// TestKmerMarkovEntropy fits a model on a known second-order chain: order 2
// reaches the entropy rate, orders 0 and 1 are worse, higher orders do not
// overfit much.
func TestKmerMarkovEntropy(t *testing.T) {
	c := newChain2(rand.New(rand.NewPCG(7, 7)))
	train := c.rows(rand.New(rand.NewPCG(1, 1)), 200, 1000)
	test := c.rows(rand.New(rand.NewPCG(2, 2)), 40, 1000)
	for _, sm := range []Smoothing{Discount, KneserNey, WittenBell, AddAlpha} {
		m, _ := NewKmer(KmerConfig{Order: 6, Smoothing: sm})
		for _, r := range train {
			m.Add(r)
		}
		nll := make([]float64, 7)
		for k := 0; k <= 6; k++ {
			acc, err := m.Perplexity(test, k)
			if err != nil {
				t.Fatal(err)
			}
			nll[k] = acc.PerToken()
		}
		t.Logf("%v: entropy rate %.4f, NLL by order %.4f", sm, c.h, nll)
		// Row starts use shorter contexts, so order 2 sits slightly above h.
		if nll[2] < c.h-0.01 || nll[2] > c.h+0.02 {
			t.Errorf("%v: order-2 NLL %.4f, entropy rate %.4f", sm, nll[2], c.h)
		}
		if nll[0] < nll[1]+0.01 || nll[1] < nll[2]+0.01 {
			t.Errorf("%v: NLL does not fall with order up to the true one: %v", sm, nll)
		}
		if nll[6] > c.h+0.05 {
			t.Errorf("%v: order-6 NLL %.4f overfits (entropy %.4f)", sm, nll[6], c.h)
		}
	}
}

// TestKmerTuneAlpha: betas tuned on held-out rows make a high order that
// overfits with a small fixed alpha come back to the entropy rate.
func TestKmerTuneAlpha(t *testing.T) {
	c := newChain2(rand.New(rand.NewPCG(8, 8)))
	train := c.rows(rand.New(rand.NewPCG(3, 3)), 50, 1000)
	valid := c.rows(rand.New(rand.NewPCG(4, 4)), 20, 1000)
	test := c.rows(rand.New(rand.NewPCG(5, 5)), 20, 1000)
	m, _ := NewKmer(KmerConfig{Order: 8, Smoothing: AddAlpha, Alpha: 0.05})
	for _, r := range train {
		m.Add(r)
	}
	before, _ := m.Perplexity(test, 8)
	betas, err := m.TuneAlpha(valid)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := m.Perplexity(test, 8)
	t.Logf("order 8: NLL %.4f with alpha 0.05, %.4f tuned (betas %.3g); entropy rate %.4f", before.PerToken(), after.PerToken(), betas, c.h)
	if after.PerToken() > before.PerToken()-0.02 || after.PerToken() > c.h+0.02 {
		t.Fatalf("tuning did not help: %.4f -> %.4f (entropy %.4f)", before.PerToken(), after.PerToken(), c.h)
	}
	// The chain is second order: contexts beyond 2 carry nothing, so their
	// betas should be large (trust the lower order).
	if betas[5] < 10*betas[2] {
		t.Errorf("betas %v: order 5 not smoothed harder than order 2", betas)
	}
	if _, err := m.TuneAlpha([][]uint8{{4, 4}}); err == nil {
		t.Fatal("tuning on nothing accepted")
	}
}

func TestKmerErrors(t *testing.T) {
	if _, err := NewKmer(KmerConfig{Order: 13}); err == nil {
		t.Fatal("order 13 accepted")
	}
	m, _ := NewKmer(KmerConfig{Order: 2})
	if _, err := m.Perplexity([][]uint8{{7, 8}}, 3); err == nil {
		t.Fatal("order above the fitted one accepted")
	}
	if _, err := m.Prob([]int{5}, 0); err == nil {
		t.Fatal("bad context symbol accepted")
	}
}

// sharedData finds ../shared/data beside the module root.
func sharedData(t testing.TB) string {
	dir := testenv.ModuleRoot(t)
	d := filepath.Join(dir, "..", "shared", "data")
	if _, err := os.Stat(d); err != nil {
		t.Skip("kmer: ../shared/data absent")
	}
	return d
}

// readChr20 decompresses up to max bases of GRCh37 chr20 (BGZF is valid
// multi-member gzip) as token ids; max <= 0 reads it all.
func readChr20(t testing.TB, max int) []uint8 {
	path := filepath.Join(sharedData(t), "genome", "grch37_chr20.fa.gz")
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("kmer: %s absent", path)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var lut [256]uint8
	for i := range lut {
		lut[i] = 255
	}
	for i, c := range "ACGTN" {
		lut[c] = uint8(7 + i)
		lut[c+'a'-'A'] = uint8(7 + i)
	}
	seq := make([]uint8, 0, 64<<20)
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(b) > 0 && b[0] == '>' {
			continue
		}
		for _, c := range b {
			id := lut[c]
			if id == 255 {
				id = 11 // IUPAC codes read as N
			}
			seq = append(seq, id)
		}
		if max > 0 && len(seq) >= max {
			return seq[:max]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s line %d: %v", path, line, err)
	}
	return seq
}

func rowsOf(seq []uint8, l int) [][]uint8 {
	var rows [][]uint8
	for i := 0; i < len(seq); i += l {
		rows = append(rows, seq[i:min(i+l, len(seq))])
	}
	return rows
}

// TestKmerChr20Slice fits on 2 Mb of real chr20 (after its leading N run)
// and checks the perplexities fall in the range real DNA gives.
func TestKmerChr20Slice(t *testing.T) {
	seq := readChr20(t, 2_400_000)
	seq = seq[60_000:] // chr20 starts with 60 kb of N
	train, test := rowsOf(seq[:2_000_000], 1024), rowsOf(seq[2_000_000:], 1024)
	m, _ := NewKmer(KmerConfig{Order: 8})
	for _, r := range train {
		m.Add(r)
	}
	var ppl [9]float64
	for k := range ppl {
		acc, _ := m.Perplexity(test, k)
		ppl[k] = acc.Perplexity()
	}
	t.Logf("chr20 2 Mb train / 340 kb test, rows of 1024, discount: ppl by order %.4f", ppl)
	if ppl[0] < 3.8 || ppl[0] > 4.0 {
		t.Errorf("unigram ppl %.4f outside [3.8, 4.0]", ppl[0])
	}
	if ppl[4] >= ppl[0]-0.05 || ppl[6] > ppl[4] {
		t.Errorf("context does not help: %v", ppl)
	}
}

// TestKmerChr20Full reproduces the reference numbers on the whole
// chromosome (train = first 90%, validation = the next 5%, test = the last
// 5%): untuned Discount smoothing and AddAlpha with betas tuned on the
// validation split, on one contiguous row per split and on rows of 1024.
// It needs ~1 GB and a few minutes, so it runs only with SEQDIFF_LONG=1.
func TestKmerChr20Full(t *testing.T) {
	if os.Getenv("SEQDIFF_LONG") == "" {
		t.Skip("kmer: set SEQDIFF_LONG=1 for the whole-chr20 reproduction")
	}
	seq := readChr20(t, 0)
	n := len(seq)
	trainSeq, validSeq, testSeq := seq[:n*9/10], seq[n*9/10:n*95/100], seq[n*95/100:]
	orders := []int{0, 2, 4, 6, 8, 10, 12}
	for _, rowLen := range []int{0, 1024} {
		train, valid, test := [][]uint8{trainSeq}, [][]uint8{validSeq}, [][]uint8{testSeq}
		if rowLen > 0 {
			train, valid, test = rowsOf(trainSeq, rowLen), rowsOf(validSeq, rowLen), rowsOf(testSeq, rowLen)
		}
		m, err := NewKmer(KmerConfig{Order: 12, Smoothing: Discount})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range train {
			m.Add(r)
		}
		score := func(name string) map[int]float64 {
			ppl := map[int]float64{}
			for _, k := range orders {
				acc, _ := m.Perplexity(test, k)
				ppl[k] = acc.Perplexity()
				t.Logf("%-13s rows=%-4d k=%2d ppl %.4f (%d tokens)", name, rowLen, k, ppl[k], acc.Tokens)
			}
			return ppl
		}
		disc := score("discount")
		betas, err := m.TuneAlpha(valid)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("betas tuned on the validation 5%%: %.3g", betas)
		tuned := score("tuned-dirichlet")
		if rowLen == 0 {
			if !close(disc[0], 4.09, 0.01) || !close(disc[4], 3.84, 0.02) || tuned[10] > 3.66 {
				t.Errorf("contiguous split: discount %v, tuned %v; reference unigram 4.09, k=4 3.84, k=10 3.65", disc, tuned)
			}
		}
	}
}

// TestKmerScoreN: by default N is skipped like PAD; with ScoreN it is a
// fifth symbol and a run of N costs little after its first N (the [N]
// context), while an N inside the context truncates it.
func TestKmerScoreN(t *testing.T) {
	row := make([]uint8, 0, 3000)
	rng := rand.New(rand.NewPCG(9, 9))
	for len(row) < 3000 {
		for i := 0; i < 200; i++ {
			row = append(row, uint8(7+rng.IntN(4)))
		}
		for i := 0; i < 100; i++ {
			row = append(row, 11)
		}
	}
	skip, _ := NewKmer(KmerConfig{Order: 3})
	score, _ := NewKmer(KmerConfig{Order: 3, ScoreN: true})
	skip.Add(row)
	score.Add(row)
	a, _ := skip.Perplexity([][]uint8{row}, 3)
	b, _ := score.Perplexity([][]uint8{row}, 3)
	if a.Tokens != 2000 || b.Tokens != 3000 {
		t.Fatalf("scored %d and %d positions, want 2000 (bases) and 3000", a.Tokens, b.Tokens)
	}
	// Per N in a run: 99 of every 100 follow an N, predicted with p close to 1.
	nRun := []uint8{11, 11, 11, 11, 11, 11, 11, 11, 11, 11}
	var acc NLL
	_ = score.Score(nRun, 3, &acc)
	if first := -math.Log(1.0 / 3); acc.Sum > first+9*0.05 {
		t.Fatalf("a run of 10 N costs %.3f nats", acc.Sum)
	}
	if p, _ := score.Prob([]int{0, 1, 2}, 4); p > 0.05 {
		t.Fatalf("N after bases has probability %v", p)
	}
}
