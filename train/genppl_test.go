package train

import (
	"math"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/compute/cpu"
	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/vocab"
)

// TestGenerativePerplexity checks the score against the NLL summed by hand
// from the scorer's logits, the windowing of a text longer than the
// context, and the refusal of an mdlm scorer.
func TestGenerativePerplexity(t *testing.T) {
	tok, err := dataprep.TokenizerByName(dataprep.BertTokenizerName)
	if err != nil {
		t.Fatal(err)
	}
	cfg := nn.DefaultConfig(dataprep.BertVocabSize, 16, 1, 2, 8, nn.ModeAR)
	cfg.MaskID, cfg.PadID, cfg.Tokenizer = dataprep.BertMASK, dataprep.BertPAD, dataprep.BertTokenizerName
	m, err := nn.New(cpu.New(1), cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.Init(5)
	texts := []string{"[CLS] the cat sat . [SEP]", "", strings.Repeat("dog ", 10)}
	g, err := GenerativePerplexity(m, tok, texts, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Text 1: 5 tokens after [CLS] (one window); text 3: 10 tokens in
	// windows of 7 (two).
	if g.Texts != 3 || g.Empty != 1 || g.Windows != 3 || g.Tokens != 15 {
		t.Fatalf("texts %d empty %d windows %d tokens %d, want 3 1 3 15", g.Texts, g.Empty, g.Windows, g.Tokens)
	}
	dog, _ := tok.Encode([]byte("dog"))
	cat, _ := tok.Encode([]byte(texts[0]))
	want := handNLL(t, m, [][]int32{cat, {101, dog[0], dog[0], dog[0], dog[0], dog[0], dog[0], dog[0]}, {101, dog[0], dog[0], dog[0]}})
	if math.Abs(g.Sum-want) > 1e-4*want {
		t.Errorf("genppl NLL %v, by hand %v", g.Sum, want)
	}
	cfg.Mode = nn.ModeMDLM
	md, _ := nn.New(cpu.New(1), cfg)
	if _, err := GenerativePerplexity(md, tok, texts, 2); err == nil || !strings.Contains(err.Error(), "must be an ar checkpoint") {
		t.Errorf("mdlm scorer: %v", err)
	}
}

// handNLL sums -log p(row[i+1] | row[:i+1]) over every row from m's logits.
func handNLL(t *testing.T, m *nn.Model, rows [][]int32) float64 {
	t.Helper()
	want := 0.0
	V := m.Cfg.VocabSize
	for _, row := range rows {
		if err := m.Forward(row, nil, 1, len(row), true); err != nil {
			t.Fatal(err)
		}
		lg, err := m.LogitsHost()
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(row); i++ {
			r := lg[i*V : (i+1)*V]
			mx := math.Inf(-1)
			for _, x := range r {
				mx = math.Max(mx, float64(x))
			}
			var s float64
			for _, x := range r {
				s += math.Exp(float64(x) - mx)
			}
			want += mx + math.Log(s) - float64(r[row[i+1]])
		}
	}
	return want
}

// TestScoreDNA checks ScoreDNA against the NLL by hand: windows of seq_len
// with no BOS, a window's first base not predicted; and its refusals.
func TestScoreDNA(t *testing.T) {
	cfg := nn.DefaultConfig(vocab.DNASize, 16, 1, 2, 8, nn.ModeAR)
	m, err := nn.New(cpu.New(1), cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.Init(3)
	a := []uint8{vocab.A, vocab.C, vocab.G, vocab.T, vocab.N, vocab.A, vocab.A, vocab.C}
	b := append(append([]uint8(nil), a...), vocab.G, vocab.G, vocab.T)
	nll, err := ScoreDNA(m, [][]uint8{a, b}, 2)
	if err != nil {
		t.Fatal(err)
	}
	// a: 7 predicted; b: a window of 8 (7) and one of 3 (2).
	if nll.Tokens != 16 || nll.Bound {
		t.Fatalf("tokens %d bound %v, want 16 exact", nll.Tokens, nll.Bound)
	}
	ids := func(s []uint8) []int32 {
		out := make([]int32, len(s))
		for i, x := range s {
			out[i] = int32(x)
		}
		return out
	}
	want := handNLL(t, m, [][]int32{ids(a), ids(a), ids(b[8:])})
	if math.Abs(nll.Sum-want) > 1e-4*want {
		t.Errorf("NLL %v, by hand %v", nll.Sum, want)
	}
	if _, err := ScoreDNA(m, [][]int32{{vocab.A, vocab.Pad, vocab.C}}, 2); err == nil || !strings.Contains(err.Error(), "sequence 1: position 2") {
		t.Errorf("PAD in a sequence: %v", err)
	}
	cfg.Mode = nn.ModeMDLM
	md, _ := nn.New(cpu.New(1), cfg)
	if _, err := ScoreDNA(md, [][]uint8{a}, 2); err == nil || !strings.Contains(err.Error(), "must be an ar checkpoint") {
		t.Errorf("mdlm scorer: %v", err)
	}
	cfg.Mode, cfg.Tokenizer = nn.ModeAR, dataprep.BertTokenizerName
	tm, _ := nn.New(cpu.New(1), cfg)
	if _, err := ScoreDNA(tm, [][]uint8{a}, 2); err == nil || !strings.Contains(err.Error(), "not DNA") {
		t.Errorf("text scorer: %v", err)
	}
}
