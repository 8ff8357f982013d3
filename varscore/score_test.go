package varscore

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/compute/cpu"
	"github.com/seqdiff/seqdiff/evaluate"
	"github.com/seqdiff/seqdiff/genome"
	"github.com/seqdiff/seqdiff/mdlm"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/train"
	"github.com/seqdiff/seqdiff/vocab"
)

// sharpModel is a small DNA model whose initial weights are scaled up so
// that its predictions are far from uniform (scores of several nats).
func sharpModel(t *testing.T, mode string, seqLen int) *nn.Model {
	t.Helper()
	cfg := nn.DefaultConfig(vocab.DNASize, 32, 2, 4, seqLen, mode)
	m, err := nn.New(cpu.New(1), cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := nn.InitParams(cfg, 7)
	for _, e := range m.Table {
		if len(e.Shape) == 2 {
			for i := e.Offset; i < e.Offset+e.Size; i++ {
				p[i] *= 20
			}
		}
	}
	if err := m.SetParams(p); err != nil {
		t.Fatal(err)
	}
	return m
}

func randomBases(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 3))
	b := make([]byte, n)
	for i := range b {
		b[i] = "ACGT"[r.IntN(4)]
	}
	return b
}

func memRef(recs map[string][]byte, order ...string) *memReference {
	return &memReference{names: order, seqs: recs}
}

// hapWindows builds the REF and ALT windows of a record independently of
// place/windows: the reference and the ALT haplotype (the reference with
// REF replaced by ALT), each cut at the same start, W bases.
func hapWindows(seq []byte, pos int, ref, alt string, start, W int) (refWin, altWin []byte) {
	p0 := pos - 1
	hap := append(append(append([]byte(nil), seq[:p0]...), alt...), seq[p0+len(ref):]...)
	return seq[start : start+W], hap[start : start+W]
}

// others are the three bases other than b.
func others(b byte) []string {
	var out []string
	for _, c := range "ACGT" {
		if byte(c) != b {
			out = append(out, string(c))
		}
	}
	return out
}

func idsU8(b []byte) []uint8 {
	out := make([]uint8, len(b))
	for i, x := range ids(b) {
		out[i] = uint8(x)
	}
	return out
}

func exactNLL(t *testing.T, m *nn.Model, win []byte) float64 {
	t.Helper()
	r, err := train.ScoreDNA(m, [][]uint8{idsU8(win)}, 1)
	if err != nil {
		t.Fatal(err)
	}
	return r.Sum
}

// TestPlace: for every small geometry, the windows place returns hold
// what the reference and the ALT haplotype hold at the same start, both W
// bases with the allele inside; the allele is centred unless an end of
// the contig is too close; and place refuses only what cannot fit.
func TestPlace(t *testing.T) {
	seq := randomBases(16, 1)
	for W := 4; W <= 9; W++ {
		for clen := 1; clen <= 16; clen++ {
			for p0 := 0; p0 < clen; p0++ {
				for r := 1; p0+r <= clen && r <= 5; r++ {
					for a := 1; a <= 5; a++ {
						if a == r && r > 1 {
							continue
						}
						ref := string(seq[p0 : p0+r])
						alt := strings.Repeat("T", a)
						start, lf, kind, _ := place(W, clen, p0, r, a)
						m, need := max(r, a), W+max(0, r-a)
						// Some start fits: the allele inside both windows, both inside the contig.
						fits := false
						for s := 0; s <= p0; s++ {
							if s+need <= clen && p0-s+m <= W {
								fits = true
							}
						}
						if m > W-2 {
							if kind != ErrTooLong {
								t.Fatalf("W %d r %d a %d: kind %q, want %s", W, r, a, kind, ErrTooLong)
							}
							continue
						}
						if fits != (kind == "") {
							t.Fatalf("W %d clen %d p0 %d r %d a %d: kind %q, fits %v", W, clen, p0, r, a, kind, fits)
						}
						if kind != "" {
							continue
						}
						if lf != p0-start || start < 0 || start+need > clen || lf+m > W {
							t.Fatalf("W %d clen %d p0 %d r %d a %d: start %d lf %d", W, clen, p0, r, a, start, lf)
						}
						if c := p0 - (W-m)/2; c >= 0 && c+need <= clen && lf != (W-m)/2 {
							t.Fatalf("W %d clen %d p0 %d r %d a %d: lf %d, want centred %d", W, clen, p0, r, a, lf, (W-m)/2)
						}
						rw, aw := windows(seq[start:start+need], W, lf, ref, alt)
						wr, wa := hapWindows(seq[:clen], p0+1, ref, alt, start, W)
						if string(rw) != string(wr) || string(aw) != string(wa) {
							t.Fatalf("W %d clen %d p0 %d r %d a %d: windows %s %s, want %s %s", W, clen, p0, r, a, rw, aw, wr, wa)
						}
					}
				}
			}
		}
	}
}

// TestARExact: an AR score is the difference of the two windows' exact
// log-likelihoods computed by train.ScoreDNA (windows cut independently),
// on both strands, for SNVs, MNVs, insertions, deletions, multi-allelic
// records and variants at the contig ends (shifted windows). With batch 1
// (every window its own forward pass, as ScoreDNA's batch 1) they agree to
// 1e-6; batched, the float32 kernels round with the row count, so they
// agree to 1e-6 of the two windows' NLL (a few 1e-6 nats here).
func TestARExact(t *testing.T) {
	const W = 24
	m := sharpModel(t, nn.ModeAR, W)
	seq := randomBases(200, 2)
	seq[100] = 'N'
	ref := memRef(map[string][]byte{"1": seq}, "1")
	recs := []genome.VCFRecord{
		{Chrom: "1", Pos: 50, ID: "snv", Ref: string(seq[49:50]), Alts: others(seq[49])},
		{Chrom: "1", Pos: 60, ID: "mnv", Ref: string(seq[59:62]), Alts: []string{"NNN"}},
		{Chrom: "1", Pos: 70, ID: "ins", Ref: string(seq[69:70]), Alts: []string{string(seq[69:70]) + "GATTACA"}},
		{Chrom: "1", Pos: 80, ID: "del", Ref: string(seq[79:86]), Alts: []string{string(seq[79:80])}},
		{Chrom: "1", Pos: 101, ID: "N", Ref: "N", Alts: []string{"A"}},
		{Chrom: "1", Pos: 2, ID: "start", Ref: string(seq[1:3]), Alts: []string{"T"}},
		{Chrom: "1", Pos: 199, ID: "end", Ref: string(seq[198:199]), Alts: []string{"AC"}},
		{Chrom: "1", Pos: 190, ID: "enddel", Ref: string(seq[189:195]), Alts: []string{"A"}},
	}
	var first []Row
	for _, batch := range []int{1, 5, 64} {
		s, err := New(m, ref, Options{RC: true, Batch: batch})
		if err != nil {
			t.Fatal(err)
		}
		rows, err := s.Score(context.Background(), recs)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 10 {
			t.Fatalf("%d rows, want 10", len(rows))
		}
		worst := 0.0
		for _, r := range rows {
			if r.Err != "" || r.Method != MethodAR {
				t.Fatalf("%s %s: %s %s", r.ID, r.Alt, r.Method, r.Err)
			}
			rw, aw := hapWindows(seq, r.Pos, r.Ref, r.Alt, r.Start, W)
			rrw, raw := genome.ReverseComplement(rw), genome.ReverseComplement(aw)
			nr, na, nrr, nra := exactNLL(t, m, rw), exactNLL(t, m, aw), exactNLL(t, m, rrw), exactNLL(t, m, raw)
			fwd, rc := nr-na, nrr-nra
			tolF, tolR := 1e-6, 1e-6
			if batch > 1 {
				tolF, tolR = 1e-6*(nr+na), 1e-6*(nrr+nra)
			}
			if math.Abs(r.Fwd-fwd) > tolF || math.Abs(r.RC-rc) > tolR || math.Abs(r.Score-(fwd+rc)/2) > (tolF+tolR)/2 {
				t.Errorf("batch %d %s %s>%s: score %.9f fwd %.9f rc %.9f; ScoreDNA fwd %.9f rc %.9f", batch, r.ID, r.Ref, r.Alt, r.Score, r.Fwd, r.RC, fwd, rc)
			}
			worst = max(worst, math.Abs(r.Fwd-fwd), math.Abs(r.RC-rc))
		}
		t.Logf("batch %d: largest difference from ScoreDNA %.2g nats", batch, worst)
		if first == nil {
			first = rows
			for _, r := range rows {
				t.Logf("%-6s %s>%-8s start %3d offset %2d score %+.4f (fwd %+.4f rc %+.4f)", r.ID, r.Ref, r.Alt, r.Start, r.Offset, r.Score, r.Fwd, r.RC)
			}
		}
	}
	if r := first[7]; r.Start != 0 || r.Offset != 1 {
		t.Errorf("variant at POS 2: window start %d offset %d, want 0, 1 (shifted)", r.Start, r.Offset)
	}
	if r := first[8]; r.Start != 200-W || r.Offset != 198-(200-W) {
		t.Errorf("variant at POS 199: window start %d offset %d, want %d, %d (shifted)", r.Start, r.Offset, 200-W, 198-(200-W))
	}
	// A window shorter than seq_len is scored at its own length.
	s, _ := New(m, ref, Options{Window: 11})
	rows, err := s.Score(context.Background(), recs[:1])
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		rw, aw := hapWindows(seq, r.Pos, r.Ref, r.Alt, r.Start, 11)
		if want := exactNLL(t, m, rw) - exactNLL(t, m, aw); r.Start != 49-5 || math.Abs(r.Score-want) > 1e-5 {
			t.Errorf("window 11: %s: start %d score %.9f, want %d %.9f", r.Alt, r.Start, r.Score, 49-5, want)
		}
	}
}

// TestMaskedMarginal: an MDLM (and MLM) scores SNVs by the masked
// marginal, which equals log p(ALT) - log p(REF) from the denoiser's own
// log-softmax over the vocabulary without [MASK] (LogProbsAt); swapping
// REF and ALT (on a reference that holds ALT) negates it exactly, since
// the masked window is the same.
func TestMaskedMarginal(t *testing.T) {
	const W = 21
	for _, mode := range []string{nn.ModeMDLM, nn.ModeMLM} {
		m := sharpModel(t, mode, W)
		seq := randomBases(120, 3)
		ref := memRef(map[string][]byte{"chr2": seq}, "chr2")
		s, err := New(m, ref, Options{RC: true})
		if err != nil {
			t.Fatal(err)
		}
		var recs []genome.VCFRecord
		for _, p := range []int{1, 30, 31, 60, 120} {
			recs = append(recs, genome.VCFRecord{Chrom: "2", Pos: p, ID: ".", Ref: string(seq[p-1]), Alts: []string{"A", "C", "G", "T", "N"}})
		}
		rows, err := s.Score(context.Background(), recs)
		if err != nil {
			t.Fatal(err)
		}
		d := nn.Denoiser{M: m}
		for _, r := range rows {
			if r.Ref == r.Alt {
				if r.ErrKind != ErrSameAsRef {
					t.Fatalf("%s:%d %s>%s: error %q, want %s", r.Chrom, r.Pos, r.Ref, r.Alt, r.ErrKind, ErrSameAsRef)
				}
				continue
			}
			if r.Err != "" || r.Method != MethodMasked || r.Contig != "chr2" {
				t.Fatalf("%s:%d %s>%s: %s %s (%s)", r.Chrom, r.Pos, r.Ref, r.Alt, r.Method, r.Err, r.Contig)
			}
			// log p(ALT) - log p(REF) from LogProbsAt, both strands.
			lp := func(win []byte, site int, ref, alt byte) float64 {
				z := ids(win)
				z[site] = vocab.Mask
				out := make([]float64, 2)
				tt := []float32{float32(1 / float64(W) / (1 - mdlm.DefaultEps))}
				if err := d.LogProbsAt(z, 1, W, tt, []int32{int32(site), int32(site)}, []int32{baseID[alt], baseID[ref]}, out); err != nil {
					t.Fatal(err)
				}
				return out[0] - out[1]
			}
			win := seq[r.Start : r.Start+W]
			fwd := lp(win, r.Offset, r.Ref[0], r.Alt[0])
			rc := lp(genome.ReverseComplement(win), W-1-r.Offset, genome.ReverseComplement([]byte(r.Ref))[0], genome.ReverseComplement([]byte(r.Alt))[0])
			if math.Abs(r.Fwd-fwd) > 1e-5 || math.Abs(r.RC-rc) > 1e-5 {
				t.Errorf("%s %d %s>%s: fwd %.6f rc %.6f, LogProbsAt %.6f %.6f", mode, r.Pos, r.Ref, r.Alt, r.Fwd, r.RC, fwd, rc)
			}
			// Swapped: the reference holds ALT, the record ALT>REF.
			alt := append([]byte(nil), seq...)
			alt[r.Pos-1] = r.Alt[0]
			s2, _ := New(m, memRef(map[string][]byte{"chr2": alt}, "chr2"), Options{RC: true})
			sw, err := s2.Score(context.Background(), []genome.VCFRecord{{Chrom: "chr2", Pos: r.Pos, ID: ".", Ref: r.Alt, Alts: []string{r.Ref}}})
			if err != nil {
				t.Fatal(err)
			}
			if sw[0].Err != "" || math.Abs(sw[0].Fwd+r.Fwd) > 1e-5 || math.Abs(sw[0].RC+r.RC) > 1e-5 || math.Abs(sw[0].Score+r.Score) > 1e-5 {
				t.Errorf("%s %d %s>%s: %.9f (fwd %.9f rc %.9f); swapped %.9f (fwd %.9f rc %.9f) %s", mode, r.Pos, r.Ref, r.Alt, r.Score, r.Fwd, r.RC, sw[0].Score, sw[0].Fwd, sw[0].RC, sw[0].Err)
			}
		}
		if math.Abs(rows[len(rows)-1].Score) < 1e-3 {
			t.Errorf("%s: score %v: the sharpened model should not be near uniform", mode, rows[len(rows)-1].Score)
		}
	}
}

// TestMNV: a same-length substitution masks its differing sites together
// and adds their log-ratios: an MNV equal to REF at a site does not mask it.
func TestMNV(t *testing.T) {
	const W = 17
	m := sharpModel(t, nn.ModeMDLM, W)
	seq := randomBases(60, 4)
	copy(seq[29:32], "ACG")
	s, _ := New(m, memRef(map[string][]byte{"1": seq}, "1"), Options{})
	rows, err := s.Score(context.Background(), []genome.VCFRecord{{Chrom: "1", Pos: 30, ID: ".", Ref: "ACG", Alts: []string{"TCA"}}})
	if err != nil {
		t.Fatal(err)
	}
	r := rows[0]
	z := ids(seq[r.Start : r.Start+W])
	z[r.Offset], z[r.Offset+2] = vocab.Mask, vocab.Mask
	pos := []int32{int32(r.Offset), int32(r.Offset), int32(r.Offset + 2), int32(r.Offset + 2)}
	out := make([]float64, 4)
	tt := []float32{float32(2 / float64(W) / (1 - mdlm.DefaultEps))}
	if err := (nn.Denoiser{M: m}).LogProbsAt(z, 1, W, tt, pos, []int32{vocab.T, vocab.A, vocab.A, vocab.G}, out); err != nil {
		t.Fatal(err)
	}
	if want := out[0] - out[1] + out[2] - out[3]; r.Method != MethodMasked || math.Abs(r.Score-want) > 1e-5 {
		t.Fatalf("MNV %s score %.6f, want %.6f", r.Method, r.Score, want)
	}
}

// TestNELBODiff: an MDLM indel is NELBO(REF window) - NELBO(ALT window)
// under mdlm.Evaluator with K draws keyed by the record, the same draws
// for both windows; the score does not depend on the batch or the order
// of the records (the same draws; float32 rounding aside), and changes
// with the seed.
func TestNELBODiff(t *testing.T) {
	const W = 20
	m := sharpModel(t, nn.ModeMDLM, W)
	seq := randomBases(150, 5)
	ref := memRef(map[string][]byte{"X": seq}, "X")
	recs := []genome.VCFRecord{
		{Chrom: "chrX", Pos: 40, ID: "del", Ref: string(seq[39:43]), Alts: []string{string(seq[39:40])}},
		{Chrom: "x", Pos: 70, ID: "ins", Ref: string(seq[69:70]), Alts: []string{string(seq[69:70]) + "TT", string(seq[69:70]) + "GGGG"}},
	}
	score := func(o Options, recs []genome.VCFRecord) []Row {
		s, err := New(m, ref, o)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := s.Score(context.Background(), recs)
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	rows := score(Options{Draws: 4, Seed: 3, Batch: 3, RC: true}, recs)
	for _, r := range rows {
		if r.Err != "" || r.Method != MethodNELBO || r.Contig != "X" {
			t.Fatalf("%s %s: %s %s %s", r.ID, r.Alt, r.Method, r.Err, r.Contig)
		}
		rw, aw := hapWindows(seq, r.Pos, r.Ref, r.Alt, r.Start, W)
		ev, _ := mdlm.NewEvaluator(nn.Denoiser{M: m}, m.Cfg.Vocab(), mdlm.NELBOConfig{K: 4, Seed: 3})
		var got []float64
		ev.PerRow = func(x evaluate.RowNLL) { got = append(got, x.NLL) }
		key := recordKey("X", r.Pos, r.Ref)
		x := append(append(ids(rw), ids(aw)...), append(rcIDs(ids(rw)), rcIDs(ids(aw))...)...)
		if err := ev.AddKeyed(x, 4, W, []uint64{key, key, key, key}); err != nil {
			t.Fatal(err)
		}
		// Other batches round the float32 forward pass otherwise (by the
		// kernels' row blocking), and the weights 1/t amplify it: agree to
		// 1e-6 of the NELBOs.
		tolF, tolR := 1e-6*(got[0]+got[1]), 1e-6*(got[2]+got[3])
		if math.Abs(r.Fwd-(got[0]-got[1])) > tolF || math.Abs(r.RC-(got[2]-got[3])) > tolR {
			t.Errorf("%s %s: fwd %.9f rc %.9f, evaluator %.9f %.9f", r.ID, r.Alt, r.Fwd, r.RC, got[0]-got[1], got[2]-got[3])
		}
		t.Logf("%s %s>%s: NELBO diff %+.4f (fwd %+.4f, rc %+.4f)", r.ID, r.Ref, r.Alt, r.Score, r.Fwd, r.RC)
	}
	again := score(Options{Draws: 4, Seed: 3, Batch: 1, RC: true}, []genome.VCFRecord{recs[1], recs[0]})
	if math.Abs(again[2].Score-rows[0].Score) > 1e-4 || math.Abs(again[0].Score-rows[1].Score) > 1e-4 || math.Abs(again[1].Score-rows[2].Score) > 1e-4 {
		t.Errorf("batch 1, records swapped: %v %v %v; %v %v %v", again[2].Score, again[0].Score, again[1].Score, rows[0].Score, rows[1].Score, rows[2].Score)
	}
	if other := score(Options{Draws: 4, Seed: 4, RC: true}, recs); other[0].Score == rows[0].Score {
		t.Error("another seed gives the same NELBO difference")
	}
}

// TestRCSymmetric: on the reverse-complemented genome, with the variant
// written on that strand, an SNV's forward and reverse-complement scores
// trade places (odd window: the SNV sits in its exact centre, so the
// windows of one are the reverse complements of the other's).
func TestRCSymmetric(t *testing.T) {
	const W = 25
	seq := randomBases(300, 6)
	rc := genome.ReverseComplement(seq)
	for _, mode := range []string{nn.ModeAR, nn.ModeMDLM} {
		m := sharpModel(t, mode, W)
		s1, _ := New(m, memRef(map[string][]byte{"a": seq}, "a"), Options{RC: true})
		s2, _ := New(m, memRef(map[string][]byte{"a": rc}, "a"), Options{RC: true})
		for _, pos := range []int{40, 150, 151, 260} {
			b := seq[pos-1]
			alt := "ACGT"[(strings.IndexByte("ACGT", b)+1)%4]
			r1, err := s1.Score(context.Background(), []genome.VCFRecord{{Chrom: "a", Pos: pos, ID: ".", Ref: string(b), Alts: []string{string(alt)}}})
			if err != nil {
				t.Fatal(err)
			}
			p2 := len(seq) - pos + 1
			r2, err := s2.Score(context.Background(), []genome.VCFRecord{{Chrom: "a", Pos: p2, ID: ".", Ref: string(genome.ReverseComplement([]byte{b})), Alts: []string{string(genome.ReverseComplement([]byte{alt}))}}})
			if err != nil {
				t.Fatal(err)
			}
			a, c := r1[0], r2[0]
			if a.Err != "" || c.Err != "" || math.Abs(a.Fwd-c.RC) > 1e-5 || math.Abs(a.RC-c.Fwd) > 1e-5 || math.Abs(a.Score-c.Score) > 1e-5 {
				t.Errorf("%s pos %d: fwd %.6f rc %.6f; on the other strand fwd %.6f rc %.6f %s%s", mode, pos, a.Fwd, a.RC, c.Fwd, c.RC, a.Err, c.Err)
			}
		}
	}
}

// TestRowErrors: each allele that cannot be scored gets its kind and
// message, the others are scored.
func TestRowErrors(t *testing.T) {
	const W = 16
	m := sharpModel(t, nn.ModeAR, W)
	seq := []byte(strings.ToUpper(string(randomBases(100, 8))))
	short := randomBases(10, 9)
	ref := memRef(map[string][]byte{"chr1": seq, "chr1_alt": short, "chrM": randomBases(40, 9)}, "chr1", "chr1_alt", "chrM")
	s, err := New(m, ref, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := func(p int) string { return string(seq[p-1]) }
	other := func(p int) string { return string("ACGT"[(strings.IndexByte("ACGT", seq[p-1])+1)%4]) }
	recs := []genome.VCFRecord{
		{Chrom: "1", Pos: 50, Ref: strings.ToLower(b(50)), Alts: []string{other(50), "<DEL>", "*", "A[1:3[", "."}},
		{Chrom: "2", Pos: 50, Ref: "A", Alts: []string{"C"}},
		{Chrom: "1", Pos: 101, Ref: "A", Alts: []string{"C"}},
		{Chrom: "1", Pos: 100, Ref: b(100) + "A", Alts: []string{"C"}},
		{Chrom: "1", Pos: 0, Ref: "A", Alts: []string{"C"}},
		{Chrom: "1", Pos: 60, Ref: other(60), Alts: []string{b(60)}},
		{Chrom: "1", Pos: 61, Ref: b(61), Alts: []string{strings.ToLower(b(61))}},
		{Chrom: "1", Pos: 20, Ref: b(20), Alts: []string{b(20) + strings.Repeat("A", 14), b(20) + strings.Repeat("A", 13)}},
		{Chrom: "chr1_alt", Pos: 5, Ref: string(short[4]), Alts: []string{"NN"}},
		{Chrom: "MT", Pos: 5, Ref: "N", Alts: []string{"A"}},
		{Chrom: "1", Pos: 95, Ref: b(95), Alts: []string{b(95) + "ACGTACGTAC"}},
	}
	rows, err := s.Score(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ kind, msg string }{
		{"", ""},
		{ErrSymbolic, "symbolic ALT <DEL> has no sequence to score"},
		{ErrStar, "ALT * (an allele removed by an overlapping deletion)"},
		{ErrBreakend, "breakend ALT A[1:3[ is not scored"},
		{ErrNoAlt, "ALT . (no alternate allele)"},
		{ErrMissingContig, `contig "2" is not in the FASTA`},
		{ErrPastEnd, "POS 101 is past the end of chr1 (100 bp)"},
		{ErrPastEnd, "REF of 2 bases at POS 100 runs past the end of chr1 (100 bp)"},
		{ErrPastEnd, "POS 0 is before the first base"},
		{ErrRefMismatch, "REF " + other(60) + " does not match the FASTA's " + b(60) + " at chr1:60"},
		{ErrSameAsRef, "equals REF"},
		{ErrTooLong, "an allele of 15 bases leaves no flank in a window of 16"},
		{"", ""},
		{ErrContigShort, "the windows need 16 bases of the contig, which has 10"},
		{ErrRefMismatch, "REF N does not match the FASTA's"},
		{ErrOffContig, "would run off the end of the contig (100 bp)"},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	for i, r := range rows {
		w := want[i]
		if r.ErrKind != w.kind || !strings.Contains(r.Err, w.msg) || (w.kind == "") != !math.IsNaN(r.Score) {
			t.Errorf("row %d (%s:%d %s>%s): %q %q score %v, want %q %q", i, r.Chrom, r.Pos, r.Ref, r.Alt, r.ErrKind, r.Err, r.Score, w.kind, w.msg)
		}
	}
	if rows[0].Contig != "chr1" {
		t.Errorf("CHROM 1 resolved to %q, want chr1", rows[0].Contig)
	}
	if rows[14].Contig != "chrM" {
		t.Errorf("CHROM MT resolved to %q, want chrM", rows[14].Contig)
	}
	// Windows longer than seq_len or shorter than MinWindow are refused.
	if _, err := New(m, ref, Options{Window: W + 1}); err == nil {
		t.Error("a window past seq_len was accepted")
	}
}

// TestScoreStops: a done context stops Score before its forward passes,
// with the context's cause.
func TestScoreStops(t *testing.T) {
	m := sharpModel(t, nn.ModeAR, 16)
	seq := randomBases(100, 10)
	s, _ := New(m, memRef(map[string][]byte{"1": seq}, "1"), Options{})
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("stop")
	cancel(stop)
	if _, err := s.Score(ctx, []genome.VCFRecord{{Chrom: "1", Pos: 50, Ref: string(seq[49]), Alts: []string{"N"}}}); !errors.Is(err, stop) {
		t.Fatalf("Score on a cancelled context: %v", err)
	}
}
