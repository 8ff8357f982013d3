package train

import (
	"math"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/compute/cpu"
	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/nn"
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
	want := 0.0
	dog, _ := tok.Encode([]byte("dog"))
	cat, _ := tok.Encode([]byte(texts[0]))
	for _, row := range [][]int32{cat, {101, dog[0], dog[0], dog[0], dog[0], dog[0], dog[0], dog[0]}, {101, dog[0], dog[0], dog[0]}} {
		if err := m.Forward(row, nil, 1, len(row), true); err != nil {
			t.Fatal(err)
		}
		lg, err := m.LogitsHost()
		if err != nil {
			t.Fatal(err)
		}
		V := cfg.VocabSize
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
	if math.Abs(g.Sum-want) > 1e-4*want {
		t.Errorf("genppl NLL %v, by hand %v", g.Sum, want)
	}
	cfg.Mode = nn.ModeMDLM
	md, _ := nn.New(cpu.New(1), cfg)
	if _, err := GenerativePerplexity(md, tok, texts, 2); err == nil || !strings.Contains(err.Error(), "must be an ar checkpoint") {
		t.Errorf("mdlm scorer: %v", err)
	}
}
