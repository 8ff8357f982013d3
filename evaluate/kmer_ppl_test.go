package evaluate

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/vocab"
)

// rowsSplit is a Split of rows in memory.
type rowsSplit [][]uint8

func (s rowsSplit) Rows() int         { return len(s) }
func (s rowsSplit) Row(i int) []uint8 { return s[i] }

// chain draws n rows of L bases from an order-1 Markov chain that repeats
// its last base with probability p.
func chain(rng *rand.Rand, n, L int, p float64) rowsSplit {
	out := make(rowsSplit, n)
	for i := range out {
		r := make([]uint8, L)
		r[0] = vocab.A + uint8(rng.IntN(4))
		for j := 1; j < L; j++ {
			r[j] = r[j-1]
			if rng.Float64() >= p {
				r[j] = vocab.A + uint8(rng.IntN(4))
			}
		}
		out[i] = r
	}
	return out
}

// TestKmerPerplexityChoosesOnValid: the order is chosen on valid, never on
// the scored split. Train and valid come from a chain with memory (order 1
// beats order 0 there), test from independent bases (order 0 is best
// there): the chosen order is 1, although order 0 scores better on test.
func TestKmerPerplexityChoosesOnValid(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	splits := map[string]rowsSplit{"train": chain(rng, 200, 64, 0.6), "valid": chain(rng, 50, 64, 0.6), "test": chain(rng, 50, 64, 0)}
	open := func(n string) (Split, error) {
		if s, ok := splits[n]; ok {
			return s, nil
		}
		return nil, errors.New("no split " + n)
	}
	res, err := KmerPerplexity(open, "test", KmerPPLOptions{Orders: []int{0, 1}})
	if err != nil {
		t.Fatal(err)
	}
	if res.BestK != 1 || res.ChosenOn != "valid" || !res.Tuned || len(res.Orders) != 2 {
		t.Fatalf("%+v", res)
	}
	if !(res.Orders[0].Perplexity < res.Orders[1].Perplexity) {
		t.Fatalf("on test, order 0 should beat order 1: %+v", res.Orders)
	}
	if b := res.Best(); b.K != 1 || b.NLL.Tokens != 50*64 || b.Tokens != b.NLL.Tokens {
		t.Fatalf("best %+v", b)
	}
	// Scoring valid itself: nothing is tuned or chosen on another split.
	res, err = KmerPerplexity(open, "valid", KmerPPLOptions{Orders: []int{0, 1}, MaxRows: 10})
	if err != nil || res.ChosenOn != "valid" || res.Tuned || res.Orders[0].Tokens != 10*64 {
		t.Fatalf("valid: %v %+v", err, res)
	}
	if _, err := KmerPerplexity(open, "test", KmerPPLOptions{Orders: []int{MaxKmerOrder + 1}}); err == nil {
		t.Fatal("order past the maximum accepted")
	}
	if _, err := KmerPerplexity(open, "nope", KmerPPLOptions{Orders: []int{0}}); err == nil {
		t.Fatal("a missing split accepted")
	}
}

func TestReport(t *testing.T) {
	nats, tokens := make([]float64, TBins), make([]float64, TBins)
	nats[0], tokens[0], nats[7], tokens[7] = 100, 40, 30, 60
	n := NLL{Sum: 130, Tokens: 100, Rows: 4, Bound: true, K: 4, ByT: NewTBins(nats, tokens)}
	r := NewReport(n, "runs/mdlm", "mdlm", "test")
	if len(r.ByT) != TBins || r.ByT[7] != (TBin{TLo: 0.7, THi: 0.8, NLLPerToken: 0.5, Tokens: 60}) || r.ByT[3].NLLPerToken != 0 {
		t.Fatalf("by t: %+v", r.ByT)
	}
	if r.Draws != 4 || r.Kind() != "upper bound, K = 4" || r.Rows != 4 || r.Tokens != 100 || r.NLLPerToken != 1.3 {
		t.Fatalf("%+v %s", r, r.Kind())
	}
	if s := r.Summary("base"); s != "test perplexity <= 3.6693 (upper bound, K = 4), 1.3000 nats/base, 1.8755 bits/base over 100 tokens" {
		t.Fatalf("summary %q", s)
	}
	k := NewReport(NLL{Sum: 10, Tokens: 10}, "k-mer", KmerMode, "test")
	k.KmerOrder = 6
	if k.Bound || k.Draws != 0 || k.Kind() != "exact, order 6 chosen on valid" {
		t.Fatalf("%+v", k)
	}
	p := filepath.Join(t.TempDir(), "ppl.json")
	if err := r.WriteJSON(p); err != nil {
		t.Fatal(err)
	}
	back, err := ReadReport(p)
	if err != nil || !reflect.DeepEqual(back, r) {
		t.Fatalf("round trip %v: %+v vs %+v", err, back, r)
	}
	// An exact score has no bins, and its JSON no by_t key.
	if b, _ := json.Marshal(k); strings.Contains(string(b), "by_t") {
		t.Fatalf("k-mer report carries by_t: %s", b)
	}
	if (NLL{}).PerToken() != 0 || (NLL{}).Perplexity() != 1 {
		t.Fatal("nothing scored must read as 0 nats, perplexity 1, never NaN")
	}
}
