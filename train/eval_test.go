package train

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/compute/cpu"
	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/evaluate"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/vocab"
)

// checkRows: the per-row scores are rows 0..n-1 in order and add up to
// the total.
func checkRows(t *testing.T, what string, rows []evaluate.RowNLL, res evaluate.NLL, n int) {
	t.Helper()
	var nats float64
	var tokens int64
	for i, r := range rows {
		if r.Row != i {
			t.Fatalf("%s: row %d numbered %d", what, i, r.Row)
		}
		nats += r.NLL
		tokens += r.Tokens
	}
	if len(rows) != n || res.Rows != n || tokens != res.Tokens || math.Abs(nats-res.Sum) > 1e-9*math.Abs(res.Sum) {
		t.Fatalf("%s: %d rows, %d tokens, %.9f nats; total %d rows, %d tokens, %.9f nats", what, len(rows), tokens, nats, res.Rows, res.Tokens, res.Sum)
	}
}

// checkByT: the bins of t add up to the total, and their token-weighted
// mean per token is the total per token.
func checkByT(t *testing.T, what string, res evaluate.NLL) {
	t.Helper()
	if len(res.ByT) != evaluate.TBins {
		t.Fatalf("%s: %d bins of t", what, len(res.ByT))
	}
	var tok, nats float64
	for _, b := range res.ByT {
		tok += b.Tokens
		nats += b.NLLPerToken * b.Tokens
	}
	if math.Abs(tok-float64(res.Tokens)) > 1e-9*tok || math.Abs(nats/tok-res.PerToken()) > 1e-12*res.PerToken() {
		t.Fatalf("%s: bins hold %.6f tokens at %.12f nats/token; total %d at %.12f", what, tok, nats/tok, res.Tokens, res.PerToken())
	}
}

// TestEvaluatePerRow: for every mode the per-row scores add up to the
// total, over a last batch filled with PAD rows and rows with a PAD tail;
// MDLM's bins of t add up to it too, and AR and MLM have none.
func TestEvaluatePerRow(t *testing.T) {
	rows := markovRows(11, 32, 4)
	for r := 0; r < 11; r += 3 {
		for i := 20 + r; i < 32; i++ {
			rows.ids[r*32+i] = vocab.Pad
		}
	}
	for _, mode := range []string{nn.ModeAR, nn.ModeMDLM, nn.ModeMLM} {
		cfg := nn.DefaultConfig(vocab.DNASize, 16, 1, 2, 32, mode)
		m, err := nn.New(cpu.New(1), cfg)
		if err != nil {
			t.Fatal(err)
		}
		m.Init(1)
		var got []evaluate.RowNLL
		res, err := Evaluate(m, rows, 32, EvalOptions{Batch: 4, MaxRows: 10, Draws: 3, Seed: 2, PerRow: func(r evaluate.RowNLL) { got = append(got, r) }})
		m.Free()
		if err != nil {
			t.Fatal(err)
		}
		checkRows(t, mode, got, res, 10)
		if mode == nn.ModeMDLM {
			checkByT(t, mode, res)
		} else if res.ByT != nil {
			t.Fatalf("%s: bins of t on an exact score", mode)
		}
		// AR scores every next token: 19 of row 0's 20, 31 of row 1's 32.
		if mode == nn.ModeAR && (got[0].Tokens != 19 || got[1].Tokens != 31) {
			t.Fatalf("%s: rows %+v", mode, got[:2])
		}
	}
}

// TestKmerFloor scores the bidirectional floor on the embedded genome: a
// bound over every token of the scored rows, between the entropy a
// context helps to reach and the unigram's, with its bins and rows adding
// up; the same call gives the same number.
func TestKmerFloor(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "prep")
	if _, err := dataprep.Prep(context.Background(), dataprep.Options{Out: dir, SeqLen: 64}); err != nil {
		t.Fatal(err)
	}
	var rows []evaluate.RowNLL
	o := EvalOptions{Draws: 2, Seed: 5, MaxRows: 40, PerRow: func(r evaluate.RowNLL) { rows = append(rows, r) }}
	rep, err := KmerFloor(dir, "test", 3, o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Mode != evaluate.KmerBidirMode || rep.KmerOrder != 3 || !rep.Bound || rep.Draws != 2 || rep.Seed != 5 || rep.Rows != 40 || rep.Tokens != 40*64 ||
		!(rep.NLLPerToken > 0.9 && rep.NLLPerToken < math.Log(4)) {
		t.Fatalf("%+v", rep)
	}
	nll := evaluate.NLL{Sum: rep.NLLPerToken * float64(rep.Tokens), Tokens: rep.Tokens, Rows: rep.Rows, ByT: rep.ByT}
	checkByT(t, "floor", nll)
	checkRows(t, "floor", rows, nll, 40)
	o.PerRow = nil
	again, err := KmerFloor(dir, "test", 3, o)
	if err != nil || again.NLLPerToken != rep.NLLPerToken {
		t.Fatalf("second run: %v, %v vs %v", err, again.NLLPerToken, rep.NLLPerToken)
	}
	if !strings.Contains(rep.Checkpoint, "tuned on valid") {
		t.Fatalf("test split: %q", rep.Checkpoint)
	}
	// Scoring valid itself: nothing is tuned on it.
	if v, err := KmerFloor(dir, "valid", 3, o); err != nil || !strings.Contains(v.Checkpoint, "valid is the scored split") {
		t.Fatalf("valid split: %v %q", err, v.Checkpoint)
	}
	if _, err := KmerFloor(dir, "test", evaluate.MaxBidirOrder+1, o); err == nil {
		t.Fatal("M past the maximum accepted")
	}
}
