package ar

import (
	"fmt"
	"math"
)

// Vocab describes the ids the objective and the sampler need.
type Vocab struct {
	Size int
	Pad  int32 // never a target, never sampled
	// Samplable lists the ids the sampler may emit (DNA: A C G T N); empty
	// means every id but Pad.
	Samplable []int32
}

// DNA is the vocabulary of DESIGN.md: 12 ids, [PAD] = 4, A C G T N = 7..11.
func DNA() Vocab { return Vocab{Size: 12, Pad: 4, Samplable: []int32{7, 8, 9, 10, 11}} }

// Validate checks the ids lie in the vocabulary.
func (v Vocab) Validate() error {
	if v.Size < 2 || v.Pad < 0 || int(v.Pad) >= v.Size {
		return fmt.Errorf("vocab: size %d, pad %d", v.Size, v.Pad)
	}
	seen := map[int32]bool{}
	for _, id := range v.Samplable {
		if id < 0 || int(id) >= v.Size || id == v.Pad || seen[id] {
			return fmt.Errorf("vocab: samplable id %d is outside 0..%d, [PAD] or repeated", id, v.Size-1)
		}
		seen[id] = true
	}
	return nil
}

func (v Vocab) samplable() []int32 {
	if len(v.Samplable) > 0 {
		return v.Samplable
	}
	var ids []int32
	for id := int32(0); int(id) < v.Size; id++ {
		if id != v.Pad {
			ids = append(ids, id)
		}
	}
	return ids
}

func (v Vocab) check(x []int32, B, L int) error {
	if B <= 0 || L <= 0 || len(x) != B*L {
		return fmt.Errorf("%d ids for a %d x %d batch", len(x), B, L)
	}
	for i, id := range x {
		if id < 0 || int(id) >= v.Size {
			return fmt.Errorf("row %d position %d: id %d outside 0..%d", i/L, i%L, id, v.Size-1)
		}
	}
	return nil
}

// Batch is a causal language-modelling batch for a weighted cross-entropy:
// loss = sum_i Weights[i] * CE(logits_i, Targets[i]) / Norm, the logits
// computed with causal attention on Inputs. Rows have L-1 positions.
type Batch struct {
	B, L    int       // L is the shifted length: the input rows had L+1 tokens
	Inputs  []int32   // B*L: x[:, :-1]
	Targets []int32   // B*L: x[:, 1:]
	Weights []float32 // B*L: 1 where the target is not PAD, else 0
	Norm    int       // non-PAD targets; 0 means the batch contributes nothing
}

// Scale is 1/Norm, or 0 for an empty batch.
func (b *Batch) Scale() float32 {
	if b.Norm == 0 {
		return 0
	}
	return 1 / float32(b.Norm)
}

// Shift builds the next-token batch from x (B x L, L >= 2), reusing out's
// buffers.
func Shift(v Vocab, x []int32, B, L int, out *Batch) error {
	if err := v.check(x, B, L); err != nil {
		return fmt.Errorf("ar shift: %w", err)
	}
	if L < 2 {
		return fmt.Errorf("ar shift: rows of %d tokens, need at least 2", L)
	}
	n := B * (L - 1)
	out.B, out.L, out.Norm = B, L-1, 0
	out.Inputs = grow(out.Inputs, n)
	out.Targets = grow(out.Targets, n)
	out.Weights = grow(out.Weights, n)
	for b := 0; b < B; b++ {
		row := x[b*L : (b+1)*L]
		for i := 0; i < L-1; i++ {
			j := b*(L-1) + i
			out.Inputs[j] = row[i]
			out.Targets[j] = row[i+1]
			out.Weights[j] = 0
			if row[i+1] != v.Pad {
				out.Weights[j] = 1
				out.Norm++
			}
		}
	}
	return nil
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// NLL is the exact negative log-likelihood summed over Count non-PAD
// targets, in nats.
type NLL struct {
	Sum   float64
	Count int64
}

// Add scores targets (N of them) against logits (N*V, row-major), skipping
// PAD targets. The log-softmax is computed in float64 over the full
// vocabulary, as the training cross-entropy does.
func (n *NLL) Add(logits []float32, targets []int32, V int, pad int32) error {
	if V < 1 || len(logits) != len(targets)*V {
		return fmt.Errorf("ar nll: %d logits for %d targets of vocabulary %d", len(logits), len(targets), V)
	}
	for i, tg := range targets {
		if tg == pad {
			continue
		}
		if tg < 0 || int(tg) >= V {
			return fmt.Errorf("ar nll: target %d: id %d outside 0..%d", i, tg, V-1)
		}
		row := logits[i*V : (i+1)*V]
		mx := math.Inf(-1)
		for _, l := range row {
			mx = math.Max(mx, float64(l))
		}
		var s float64
		for _, l := range row {
			s += math.Exp(float64(l) - mx)
		}
		lp := float64(row[tg]) - mx - math.Log(s)
		if math.IsNaN(lp) {
			return fmt.Errorf("ar nll: target %d: NaN log-probability", i)
		}
		n.Sum -= lp
		n.Count++
	}
	return nil
}

// PerToken is the mean NLL in nats; 0 when nothing was scored (an
// all-PAD input adds nothing, never a NaN).
func (n NLL) PerToken() float64 {
	if n.Count == 0 {
		return 0
	}
	return n.Sum / float64(n.Count)
}

// Perplexity is exp(PerToken), the exact perplexity.
func (n NLL) Perplexity() float64 { return math.Exp(n.PerToken()) }

func (n NLL) String() string {
	return fmt.Sprintf("NLL %.4f nats/token, perplexity %.4f (%d tokens)", n.PerToken(), n.Perplexity(), n.Count)
}
