package evaluate

import (
	"fmt"
	"math"
)

// NLL is a held-out score, the one perplexity result of seqdiff: Sum nats
// of negative log-likelihood over Tokens scored tokens of Rows rows. It is
// exact for AR models and k-mer baselines; for MDLM it is the NELBO
// averaged over K draws of (t, mask) per sequence, an upper bound (Bound
// set); for MLM the cross-entropy of the masked positions, not a sequence
// perplexity.
type NLL struct {
	Sum    float64
	Tokens int64
	Rows   int
	Bound  bool
	K      int
	// ByT splits a NELBO by the time t of its draws (TBin); nil for exact
	// scores.
	ByT []TBin
}

// PerToken is the NLL per scored token in nats; 0 when nothing was scored
// (a batch of only [PAD] adds nothing, never a NaN).
func (n NLL) PerToken() float64 {
	if n.Tokens == 0 {
		return 0
	}
	return n.Sum / float64(n.Tokens)
}

// BitsPerToken is PerToken in bits (bits per base for DNA).
func (n NLL) BitsPerToken() float64 { return n.PerToken() / math.Ln2 }

// Perplexity is exp(PerToken); for a bound, an upper bound.
func (n NLL) Perplexity() float64 { return math.Exp(n.PerToken()) }

// Kind says how to read the perplexity: "exact", "upper bound, K = 4".
func (n NLL) Kind() string {
	if n.Bound {
		return fmt.Sprintf("upper bound, K = %d", n.K)
	}
	return "exact"
}

func (n NLL) String() string {
	return fmt.Sprintf("perplexity %.4f (%s), %.4f nats/token, %.4f bits/token over %d tokens", n.Perplexity(), n.Kind(), n.PerToken(), n.BitsPerToken(), n.Tokens)
}

// TBins is the number of equal bins of the diffusion time t in [0, 1]
// that a NELBO is split into (NLL.ByT).
const TBins = 10

// TBin is one bin of a NELBO split by the time t of its draws
// (mdlm.Evaluator): the draws with t in [TLo, THi), the last bin with 1.
// Each (row, draw) adds its NELBO term divided by K to the bin's nats and
// its row's non-PAD tokens divided by K to Tokens (so Tokens may be
// fractional): the bins' nats add up to the NLL's Sum and their tokens to
// its Tokens, and the token-weighted mean of NLLPerToken over the bins is
// the NLL's PerToken. A bin's NLLPerToken is what the model pays per token
// at that noise level, scaled by w(t) as the bound weighs it.
type TBin struct {
	TLo         float64 `json:"t_lo"`
	THi         float64 `json:"t_hi"`
	NLLPerToken float64 `json:"nll_per_token"`
	Tokens      float64 `json:"tokens"`
}

// TBinOf is the index of the bin holding time t (t outside [0, 1] goes to
// the nearest end).
func TBinOf(t float64) int {
	return min(max(int(t*TBins), 0), TBins-1)
}

// NewTBins are the TBins bins from their summed nats and tokens (each of
// length TBins); a bin without tokens has NLLPerToken 0.
func NewTBins(nats, tokens []float64) []TBin {
	bins := make([]TBin, TBins)
	for i := range bins {
		bins[i] = TBin{TLo: float64(i) / TBins, THi: float64(i+1) / TBins, Tokens: tokens[i]}
		if tokens[i] > 0 {
			bins[i].NLLPerToken = nats[i] / tokens[i]
		}
	}
	return bins
}

// RowNLL is one row's score: its index in the split, its scored tokens
// and nats (MDLM: the NELBO averaged over the K draws).
type RowNLL struct {
	Row    int
	Tokens int64
	NLL    float64
}

// PerToken is the row's nats per scored token (0 for a row without any).
func (r RowNLL) PerToken() float64 {
	if r.Tokens == 0 {
		return 0
	}
	return r.NLL / float64(r.Tokens)
}
