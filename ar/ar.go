package ar

import (
	"fmt"
	"math"

	"github.com/seqdiff/seqdiff/evaluate"
	"github.com/seqdiff/seqdiff/vocab"
)

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
func Shift(v vocab.Vocab, x []int32, B, L int, out *Batch) error {
	if err := v.Check(x, B, L, false); err != nil {
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

// AddNLL adds to acc the exact NLL of targets (N of them) against logits
// (N*V, row-major), skipping PAD targets. The log-softmax is computed in
// float64 over the full vocabulary: the plain yardstick the fused training
// cross-entropy is checked against.
func AddNLL(acc *evaluate.NLL, logits []float32, targets []int32, V int, pad int32) error {
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
		acc.Sum -= lp
		acc.Tokens++
	}
	return nil
}
