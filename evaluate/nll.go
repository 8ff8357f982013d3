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
