package mdlm

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/seqdiff/seqdiff/evaluate"
	"github.com/seqdiff/seqdiff/vocab"
)

func allSchedules(t *testing.T) []Schedule {
	var out []Schedule
	for _, n := range []string{"loglinear", "linear", "cosine", "geometric"} {
		s, err := NewSchedule(n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func TestSchedules(t *testing.T) {
	for _, s := range allSchedules(t) {
		if a := s.Alpha(0); math.Abs(a-1) > 1e-3 {
			t.Errorf("%s: alpha(0) = %v", s.Name(), a)
		}
		if a := s.Alpha(1); a > 1.01e-3 {
			t.Errorf("%s: alpha(1) = %v, not near 0", s.Name(), a)
		}
		for _, x := range []float64{1e-3, 0.01, 0.2, 0.5, 0.9, 0.999} {
			h := 1e-6
			fd := (s.Alpha(x+h) - s.Alpha(x-h)) / (2 * h)
			if d := s.DAlpha(x); math.Abs(d-fd) > 1e-5*math.Max(1, math.Abs(fd)) {
				t.Errorf("%s: alpha'(%v) = %v, finite difference %v", s.Name(), x, d, fd)
			}
			w := -s.DAlpha(x) / (1 - s.Alpha(x))
			if math.Abs(s.Weight(x)-w) > 1e-6*w {
				t.Errorf("%s: w(%v) = %v, -alpha'/(1-alpha) = %v", s.Name(), x, s.Weight(x), w)
			}
			if s.Alpha(x) < s.Alpha(math.Min(x+0.1, 1)) {
				t.Errorf("%s: alpha increases at %v", s.Name(), x)
			}
			r := RevealProb(s, x, x/2)
			if r < 0 || r > 1 {
				t.Errorf("%s: reveal probability %v", s.Name(), r)
			}
		}
		if RevealProb(s, 0.3, 0) != 1 {
			t.Errorf("%s: the last step must reveal everything", s.Name())
		}
	}
	ll := LogLinear{Eps: DefaultEps}
	if ll.Weight(0.25) != 4 || math.Abs(ll.Alpha(0.5)-(1-0.999*0.5)) > 1e-15 {
		t.Fatal("log-linear weight is not 1/t")
	}
	// (alpha_s - alpha_t)/(1 - alpha_t) for t=0.5, s=0.25: (0.999*0.25)/(0.999*0.5) = 0.5.
	if r := RevealProb(ll, 0.5, 0.25); math.Abs(r-0.5) > 1e-12 {
		t.Fatalf("reveal probability %v, want 0.5", r)
	}
	if _, err := NewSchedule("sqrt"); err == nil {
		t.Fatal("unknown schedule accepted")
	}
}

// TestSampleT: stratified puts row b's t in its own stratum of [eps, 1]
// with its own draw; systematic spaces the B times exactly (1-eps)/B
// apart; iid stays in [eps, 1]; each scheme's times average to the middle
// of [eps, 1] over many batches (unbiased), and an unknown scheme is an
// error.
func TestSampleT(t *testing.T) {
	const B = 8
	eps := DefaultEps
	rng := rand.New(rand.NewPCG(1, 1))
	ts := make([]float32, B)
	for _, s := range TimeSamplings {
		var sum float64
		const n = 4000
		for range n {
			if err := SampleT(rng, s, eps, ts); err != nil {
				t.Fatal(err)
			}
			for b, tb := range ts {
				if tb < float32(eps) || tb > 1 {
					t.Fatalf("%s: t[%d] = %v outside [eps, 1]", s, b, tb)
				}
				sum += float64(tb)
			}
		}
		if mean, want := sum/(n*B), (1+eps)/2; math.Abs(mean-want) > 0.01 {
			t.Errorf("%s: mean t %.4f, want %.4f", s, mean, want)
		}
	}
	SampleT(rng, Stratified, eps, ts)
	offsets := map[float64]bool{}
	for b, tb := range ts {
		lo, hi := eps+(1-eps)*float64(b)/B, eps+(1-eps)*float64(b+1)/B
		if float64(tb) < lo-1e-6 || float64(tb) > hi+1e-6 {
			t.Fatalf("stratified: t[%d] = %v outside its stratum [%v, %v]", b, tb, lo, hi)
		}
		offsets[math.Round((float64(tb)-lo)*1e5)] = true
	}
	if len(offsets) < B-1 {
		t.Fatalf("stratified: the rows share their offsets within the strata %v (one draw per batch?)", ts)
	}
	SampleT(rng, Systematic, eps, ts)
	s := slices.Clone(ts)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	for i := 1; i < B; i++ {
		if gap := float64(s[i] - s[i-1]); math.Abs(gap-(1-eps)/B) > 1e-6 {
			t.Fatalf("systematic gaps %v not (1-eps)/B", s)
		}
	}
	if err := SampleT(rng, "antithetic", eps, ts); err == nil {
		t.Fatal("unknown t sampling accepted")
	}
}

func dnaRows(rng *rand.Rand, B, L int) []int32 {
	x := make([]int32, B*L)
	for i := range x {
		x[i] = int32(7 + rng.IntN(5))
	}
	return x
}

func TestForwardMasking(t *testing.T) {
	v := vocab.DNA()
	rng := rand.New(rand.NewPCG(2, 2))
	B, L := 4, 5000
	x := dnaRows(rng, B, L)
	for i := 0; i < L/2; i++ {
		x[3*L+i] = v.Pad // half of row 3 is padding
	}
	ts := []float32{0.1, 0.5, 0.9, 0.7}
	var out Batch
	if err := Forward(v, LogLinear{DefaultEps}, x, B, L, ts, rng, &out); err != nil {
		t.Fatal(err)
	}
	if out.Norm != B*L-L/2 {
		t.Fatalf("norm %d, want the %d non-PAD tokens", out.Norm, B*L-L/2)
	}
	for b := 0; b < B; b++ {
		masked, n := 0, 0
		for i := b * L; i < (b+1)*L; i++ {
			if out.Targets[i] != x[i] {
				t.Fatal("targets are not x0")
			}
			switch {
			case x[i] == v.Pad:
				if out.Input[i] != v.Pad || out.Weights[i] != 0 || out.Masked[i] != 0 {
					t.Fatal("a PAD position was masked or weighted")
				}
				continue
			case out.Input[i] == v.Mask:
				masked++
				if out.Weights[i] != 1/ts[b] || out.Masked[i] != 1 {
					t.Fatalf("masked position weight %v, want 1/t = %v", out.Weights[i], 1/ts[b])
				}
			default:
				if out.Input[i] != x[i] || out.Weights[i] != 0 || out.Masked[i] != 0 {
					t.Fatal("unmasked position changed or weighted")
				}
			}
			n++
		}
		p := 1 - (LogLinear{DefaultEps}).Alpha(float64(ts[b]))
		sd := math.Sqrt(float64(n) * p * (1 - p))
		if math.Abs(float64(masked)-float64(n)*p) > 4*sd {
			t.Errorf("row %d: %d of %d masked, expected %.0f +- %.0f", b, masked, n, float64(n)*p, sd)
		}
	}
	if err := Forward(v, LogLinear{DefaultEps}, []int32{7, 3}, 1, 2, []float32{0.5}, rng, &out); err == nil {
		t.Fatal("[MASK] in clean data accepted")
	}
	if err := Forward(v, LogLinear{DefaultEps}, []int32{7, 8}, 1, 2, []float32{0}, rng, &out); err == nil {
		t.Fatal("t = 0 accepted")
	}
	if err := Forward(v, LogLinear{DefaultEps}, []int32{7, 12}, 1, 2, []float32{0.5}, rng, &out); err == nil {
		t.Fatal("id outside the vocabulary accepted")
	}
}

// TestCorruptGivenMasks: Corrupt with the masks Forward drew rebuilds
// Forward's batch exactly; a given mask at a PAD position puts [MASK] in
// z_t (as torch_ref does) but carries no loss.
func TestCorruptGivenMasks(t *testing.T) {
	v := vocab.DNA()
	rng := rand.New(rand.NewPCG(3, 3))
	B, L := 3, 64
	x := dnaRows(rng, B, L)
	x[5], x[6] = v.Pad, v.Pad
	ts := []float32{0.2, 0.6, 1}
	var drawn, given Batch
	if err := Forward(v, LogLinear{DefaultEps}, x, B, L, ts, rng, &drawn); err != nil {
		t.Fatal(err)
	}
	if err := Corrupt(v, LogLinear{DefaultEps}, x, B, L, ts, slices.Clone(drawn.Masked), &given); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(drawn.Input, given.Input) || !slices.Equal(drawn.Weights, given.Weights) || !slices.Equal(drawn.Targets, given.Targets) ||
		!slices.Equal(drawn.T, given.T) || drawn.Norm != given.Norm {
		t.Fatal("Corrupt with Forward's masks differs from Forward")
	}
	masked := make([]uint8, B*L)
	masked[5], masked[7] = 1, 1
	if err := Corrupt(v, LogLinear{DefaultEps}, x, B, L, ts, masked, &given); err != nil {
		t.Fatal(err)
	}
	if given.Input[5] != v.Mask || given.Weights[5] != 0 || given.Input[7] != v.Mask || given.Weights[7] != 1/ts[0] || given.Norm != B*L-2 {
		t.Fatalf("given masks: input %v %v, weights %v %v, norm %d", given.Input[5], given.Input[7], given.Weights[5], given.Weights[7], given.Norm)
	}
	if err := Corrupt(v, LogLinear{DefaultEps}, x, B, L, ts, masked[:L], &given); err == nil {
		t.Fatal("a mask of the wrong size accepted")
	}
}

// TestAllPad: a batch of only [PAD] has zero weights and zero normaliser
// and scales to 0, never NaN; the NELBO of such rows is 0 over 0 tokens
// and calls no model.
func TestAllPad(t *testing.T) {
	v := vocab.DNA()
	B, L := 3, 7
	x := make([]int32, B*L)
	for i := range x {
		x[i] = v.Pad
	}
	rng := rand.New(rand.NewPCG(3, 3))
	ts := make([]float32, B)
	SampleT(rng, Stratified, DefaultEps, ts)
	var out Batch
	if err := Forward(v, LogLinear{DefaultEps}, x, B, L, ts, rng, &out); err != nil {
		t.Fatal(err)
	}
	if out.Norm != 0 || !out.Empty() || out.Scale() != 0 {
		t.Fatalf("norm %d scale %v", out.Norm, out.Scale())
	}
	var loss float32
	for i, w := range out.Weights {
		if w != 0 {
			t.Fatal("non-zero weight on PAD")
		}
		loss += w * 1.5 // any cross-entropy
		_ = i
	}
	if loss*out.Scale() != 0 || math.IsNaN(float64(loss*out.Scale())) {
		t.Fatal("all-PAD loss is not 0")
	}
	var mlm Batch
	if err := MLM(v, DefaultMLM, x, B, L, rng, &mlm); err != nil || mlm.Norm != 0 || mlm.Scale() != 0 {
		t.Fatalf("MLM on PAD: norm %d err %v", mlm.Norm, err)
	}
	d := newIndep(rng, v, L)
	ev, _ := NewEvaluator(d, v, NELBOConfig{K: 4})
	if err := ev.Add(x, B, L); err != nil {
		t.Fatal(err)
	}
	if ev.Tokens != 0 || ev.PerToken() != 0 || math.IsNaN(ev.Perplexity()) || d.calls != 0 {
		t.Fatalf("NELBO of PAD rows: %v, %d model calls", ev.NLL, d.calls)
	}
}

func TestMLMRates(t *testing.T) {
	v := vocab.DNA()
	rng := rand.New(rand.NewPCG(4, 4))
	B, L := 10, 4000
	x := dnaRows(rng, B, L)
	for i := 0; i < L; i++ {
		x[i] = v.Pad
	}
	var out Batch
	if err := MLM(v, DefaultMLM, x, B, L, rng, &out); err != nil {
		t.Fatal(err)
	}
	var kinds [3]int // [MASK], random, unchanged
	for i := range x {
		if out.Masked[i] == 0 {
			if out.Input[i] != x[i] || out.Weights[i] != 0 {
				t.Fatal("unchosen position changed or weighted")
			}
			continue
		}
		if x[i] == v.Pad {
			t.Fatal("PAD chosen")
		}
		if out.Weights[i] != 1 {
			t.Fatal("chosen position weight not 1")
		}
		switch {
		case out.Input[i] == v.Mask:
			kinds[0]++
		case out.Input[i] == x[i]:
			kinds[2]++ // unchanged, or a random draw equal to x: 1/5 of the random ones
		default:
			kinds[1]++
		}
	}
	n := (B - 1) * L
	if sd := math.Sqrt(float64(n) * 0.15 * 0.85); math.Abs(float64(out.Norm)-0.15*float64(n)) > 4*sd {
		t.Fatalf("%d chosen of %d", out.Norm, n)
	}
	// With 5 samplable ids, a random replacement equals x0 1/5 of the time.
	_, _, p, err := evaluate.ChiSquareGOF(kinds[:], []float64{0.8, 0.1 * 4 / 5, 0.1 + 0.1/5})
	if err != nil || p < 1e-3 {
		t.Fatalf("80/10/10 split %v: p = %v", kinds, p)
	}
}

// TestNELBOIID: for an i.i.d. source and the true model, the NELBO per
// token is (1 - eps) times the exact NLL per token in expectation (the
// log-linear schedule makes w(t)(1 - alpha(t)) = 1 - eps for every t).
func TestNELBOIID(t *testing.T) {
	v := vocab.DNA()
	rng := rand.New(rand.NewPCG(5, 5))
	L := 32
	m := newMarkov(rng, L)
	for a := range m.P { // rows equal to pi: an i.i.d. source
		m.P[a] = [4]float64{0.1, 0.2, 0.3, 0.4}
	}
	m.pi = [4]float64{0.1, 0.2, 0.3, 0.4}
	d := &markovDenoiser{m: newMarkov(rng, 0), V: v.Size, mask: v.Mask, iid: true}
	d.m.pi = m.pi
	checkNELBO(t, v, m, d, 2000, L, 16, 0)
}

// TestNELBOMarkov: with the exact conditionals of a Markov chain the NELBO
// is unbiased for -log p(x) (any unmasking order obeys the chain rule), so
// it approaches the exact NLL; a model that ignores the context (the
// stationary marginals) sits clearly above.
func TestNELBOMarkov(t *testing.T) {
	v := vocab.DNA()
	rng := rand.New(rand.NewPCG(6, 6))
	L := 24
	m := newMarkov(rng, L)
	d := &markovDenoiser{m: m, V: v.Size, mask: v.Mask}
	gap := checkNELBO(t, v, m, d, 2000, L, 16, 0)
	wrong := &markovDenoiser{m: m, V: v.Size, mask: v.Mask, iid: true}
	gapWrong := checkNELBO(t, v, m, wrong, 2000, L, 16, -1)
	if gapWrong < gap+0.02 {
		t.Fatalf("context-free model's NELBO gap %.4f is not above the true model's %.4f", gapWrong, gap)
	}
	t.Logf("entropy rate %.4f nats", m.entropyRate())
}

// checkNELBO draws n sequences, estimates each one's NELBO and compares
// with the exact NLL. With want 0 it asserts the mean gap is zero within
// 4 standard errors (plus the eps bias); it returns the mean gap per token.
func checkNELBO(t *testing.T, v vocab.Vocab, m *markov, d Denoiser, n, L, K int, want float64) float64 {
	t.Helper()
	src := rand.New(rand.NewPCG(10, 10))
	ev, err := NewEvaluator(d, v, NELBOConfig{K: K, Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	gaps := make([]float64, n)
	var exact float64
	for r := 0; r < n; r++ {
		row := m.sample(src, L)
		before := ev.Sum
		if err := ev.Add(row, 1, L); err != nil {
			t.Fatal(err)
		}
		gaps[r] = (ev.Sum - before - m.nll(row)) / float64(L)
		exact += m.nll(row)
	}
	s, _ := evaluate.Summarize(gaps)
	se := s.Std / math.Sqrt(float64(n))
	exactTok := exact / float64(n*L)
	t.Logf("NELBO %.4f nats/token, exact NLL %.4f, gap %.4f +- %.4f (K=%d, n=%d)", ev.PerToken(), exactTok, s.Mean, se, K, n)
	if want == 0 && math.Abs(s.Mean+DefaultEps*exactTok) > 4*se {
		t.Errorf("NELBO gap %.4f exceeds 4 standard errors (%.4f)", s.Mean, se)
	}
	if ev.Tokens != int64(n*L) {
		t.Errorf("tokens %d, want %d", ev.Tokens, n*L)
	}
	return s.Mean
}

// TestNELBOBatchInvariant: the estimate does not depend on how rows are
// batched (each row seeds its own draws).
func TestNELBOBatchInvariant(t *testing.T) {
	v := vocab.DNA()
	rng := rand.New(rand.NewPCG(7, 7))
	m := newMarkov(rng, 16)
	d := &markovDenoiser{m: m, V: v.Size, mask: v.Mask}
	var x []int32
	for r := 0; r < 6; r++ {
		x = append(x, m.sample(rng, 16)...)
	}
	a, _ := NewEvaluator(d, v, NELBOConfig{K: 3, Seed: 9})
	b, _ := NewEvaluator(d, v, NELBOConfig{K: 3, Seed: 9})
	if err := a.Add(x, 6, 16); err != nil {
		t.Fatal(err)
	}
	for r := 0; r < 6; r += 2 {
		if err := b.Add(x[r*16:(r+2)*16], 2, 16); err != nil {
			t.Fatal(err)
		}
	}
	if math.Abs(a.Sum-b.Sum) > 1e-9 || a.Tokens != b.Tokens {
		t.Fatalf("batched %v vs unbatched %v", a.NLL, b.NLL)
	}
}

// TestNELBOKeyed: AddKeyed with the running indices as keys is Add, and
// rows given one key draw the same times and masks wherever they sit: the
// same row twice under one key scores the same, and two rows that differ
// in one token under one key differ by less than under two keys on
// average (common random numbers).
func TestNELBOKeyed(t *testing.T) {
	v := vocab.DNA()
	rng := rand.New(rand.NewPCG(8, 8))
	const L = 16
	m := newMarkov(rng, L)
	d := &markovDenoiser{m: m, V: v.Size, mask: v.Mask}
	var x []int32
	for r := 0; r < 4; r++ {
		x = append(x, m.sample(rng, L)...)
	}
	a, _ := NewEvaluator(d, v, NELBOConfig{K: 3, Seed: 9})
	b, _ := NewEvaluator(d, v, NELBOConfig{K: 3, Seed: 9})
	if err := a.Add(x, 4, L); err != nil {
		t.Fatal(err)
	}
	if err := b.AddKeyed(x[2*L:], 2, L, []uint64{2, 3}); err != nil {
		t.Fatal(err)
	}
	if err := b.AddKeyed(x[:2*L], 2, L, []uint64{0, 1}); err != nil {
		t.Fatal(err)
	}
	if math.Abs(a.Sum-b.Sum) > 1e-9 {
		t.Fatalf("keyed %v vs running %v", b.Sum, a.Sum)
	}
	if err := b.AddKeyed(x, 4, L, []uint64{1}); err == nil {
		t.Fatal("AddKeyed took 1 key for 4 rows")
	}
	// One row and a copy with a token changed, under one key or two.
	var rows []float64
	c, _ := NewEvaluator(d, v, NELBOConfig{K: 2, Seed: 1})
	c.PerRow = func(r evaluate.RowNLL) { rows = append(rows, r.NLL) }
	var same, diff float64
	for k := uint64(0); k < 200; k++ {
		row := m.sample(rng, L)
		alt := append([]int32(nil), row...)
		alt[L/2] = vocab.A + (alt[L/2]-vocab.A+1)%4
		pair := append(append([]int32(nil), row...), alt...)
		rows = rows[:0]
		if err := c.AddKeyed(append(pair, row...), 3, L, []uint64{2 * k, 2 * k, 2*k + 1}); err != nil {
			t.Fatal(err)
		}
		if err := c.AddKeyed(row, 1, L, []uint64{2 * k}); err != nil {
			t.Fatal(err)
		}
		if rows[3] != rows[0] {
			t.Fatalf("one row under one key: %v then %v", rows[0], rows[3])
		}
		same += math.Abs(rows[1] - rows[0])
		diff += math.Abs(rows[1] - rows[2])
	}
	if same >= diff {
		t.Fatalf("mean |NELBO difference| of a one-token change: %.3f under one key, %.3f under two", same/200, diff/200)
	}
	t.Logf("mean |NELBO difference| of a one-token change: %.3f under one key, %.3f under two", same/200, diff/200)
}

// TestNELBOByTAndRows: the bins of t add up to the total (their
// token-weighted mean per token is the NELBO per token), the per-row
// scores add up to it too with rows numbered across batches, and each bin
// holds what the draws of its t cost. The model is uniform over the 11
// non-[MASK] ids, so a draw at t costs w(t) log 11 per masked token and,
// masked tokens being a fraction 1 - alpha(t) = (1 - eps) t, every bin
// costs (1 - eps) log 11 per token in expectation. K = 3 so that tokens/K
// is not exact in binary.
func TestNELBOByTAndRows(t *testing.T) {
	v := vocab.DNA()
	rng := rand.New(rand.NewPCG(5, 6))
	const n, L = 600, 48
	x := dnaRows(rng, n, L)
	for r := 0; r < n; r += 7 { // ragged rows: a PAD tail
		for i := L - 1 - r%L; i < L; i++ {
			x[r*L+i] = v.Pad
		}
	}
	ev, err := NewEvaluator(uniformAll{}, v, NELBOConfig{K: 3, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	var rows []evaluate.RowNLL
	ev.PerRow = func(r evaluate.RowNLL) { rows = append(rows, r) }
	for r := 0; r < n; r += 32 {
		B := min(32, n-r)
		if err := ev.Add(x[r*L:(r+B)*L], B, L); err != nil {
			t.Fatal(err)
		}
	}
	if len(ev.ByT) != evaluate.TBins {
		t.Fatalf("%d bins", len(ev.ByT))
	}
	var tok, nats float64
	for i, b := range ev.ByT {
		if math.Abs(b.TLo-float64(i)/10) > 1e-12 || math.Abs(b.THi-float64(i+1)/10) > 1e-12 || b.Tokens <= 0 {
			t.Fatalf("bin %d: %+v", i, b)
		}
		tok += b.Tokens
		nats += b.NLLPerToken * b.Tokens
		want := (1 - DefaultEps) * math.Log(11)
		if math.Abs(b.NLLPerToken-want) > 0.15*want {
			t.Errorf("bin %d: %.4f nats/token, want about %.4f", i, b.NLLPerToken, want)
		}
	}
	if math.Abs(tok-float64(ev.Tokens)) > 1e-9*tok || math.Abs(nats/tok-ev.PerToken()) > 1e-12*ev.PerToken() {
		t.Fatalf("bins: %.6f tokens, %.12f nats/token; total %d tokens, %.12f", tok, nats/tok, ev.Tokens, ev.PerToken())
	}
	var rowNats float64
	var rowTok int64
	for i, r := range rows {
		if r.Row != i {
			t.Fatalf("row %d numbered %d", i, r.Row)
		}
		rowNats += r.NLL
		rowTok += r.Tokens
	}
	if len(rows) != n || rowTok != ev.Tokens || math.Abs(rowNats-ev.Sum) > 1e-9*ev.Sum {
		t.Fatalf("%d rows: %d tokens, %.9f nats; total %d, %.9f", len(rows), rowTok, rowNats, ev.Tokens, ev.Sum)
	}
}

// uniformAll gives every id the same logit.
type uniformAll struct{}

func (uniformAll) Logits(z []int32, B, L int, t []float32, out []float32) error {
	clear(out)
	return nil
}

// TestBatchLoss checks the reference weighted cross-entropy by hand: two
// positions, one masked at t = 0.5 (weight 2), [MASK]'s logit banned.
func TestBatchLoss(t *testing.T) {
	b := Batch{B: 1, L: 2, Targets: []int32{1, 2}, Weights: []float32{2, 0}, Norm: 2}
	// Vocabulary 4 with [MASK] = 3: logits of position 0 are (0, ln 3, 0, 100).
	logits := []float32{0, float32(math.Log(3)), 0, 100, 5, 5, 5, 5}
	got, err := b.Loss(logits, 4, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := 2 * -math.Log(3.0/5) / 2 // p(1) = 3/(1+3+1) with [MASK] banned
	if math.Abs(got-want) > 1e-6 {
		t.Fatalf("loss %v want %v", got, want)
	}
	empty := Batch{B: 1, L: 2, Targets: []int32{4, 4}, Weights: []float32{0, 0}}
	if l, err := empty.Loss(logits, 4, 3); err != nil || l != 0 {
		t.Fatalf("empty batch loss %v %v", l, err)
	}
	logits[1] = float32(math.NaN())
	if _, err := b.Loss(logits, 4, 3); err == nil {
		t.Fatal("NaN logits accepted")
	}
}

// nanModel returns NaN logits: samplers and the NELBO must report it.
type nanModel struct{}

func (nanModel) Logits(z []int32, B, L int, t []float32, out []float32) error {
	for i := range out {
		out[i] = float32(math.NaN())
	}
	return nil
}

func TestNaNModel(t *testing.T) {
	v := vocab.DNA()
	s, _ := NewSampler(nanModel{}, v, SampleConfig{Steps: 4})
	z, _ := Template(v, 8, nil, nil)
	if err := s.Sample(z, 1, 8); err == nil {
		t.Fatal("NaN logits sampled silently")
	}
	ev, _ := NewEvaluator(nanModel{}, v, NELBOConfig{K: 2})
	x := []int32{7, 8, 9, 10, 7, 8, 9, 10}
	if err := ev.Add(x, 1, 8); err == nil {
		t.Fatal("NaN logits scored silently")
	}
}
