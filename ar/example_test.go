package ar_test

import (
	"fmt"
	"math"

	"github.com/seqdiff/seqdiff/ar"
	"github.com/seqdiff/seqdiff/evaluate"
	"github.com/seqdiff/seqdiff/vocab"
)

// Next-token targets: inputs x[:, :-1], targets x[:, 1:], PAD targets
// dropped.
func ExampleShift() {
	var b ar.Batch
	if err := ar.Shift(vocab.DNA(), []int32{7, 8, 9, 4}, 1, 4, &b); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(b.Inputs, b.Targets, b.Weights, b.Norm)
	// Output:
	// [7 8 9] [8 9 4] [1 1 0] 2
}

// A model that always predicts A, C, G, T uniformly has perplexity 4.
func ExampleAddNLL() {
	logits := make([]float32, 3*12)
	for i := range logits {
		logits[i] = float32(math.Inf(-1))
		if v := i % 12; v >= 7 && v <= 10 {
			logits[i] = 0
		}
	}
	var n evaluate.NLL
	_ = ar.AddNLL(&n, logits, []int32{8, 9, 10}, vocab.DNASize, vocab.Pad)
	fmt.Printf("%.4f\n", n.Perplexity())
	// Output:
	// 4.0000
}

// cycle predicts the base after the last one (A->C->G->T->A) with
// certainty; it keeps no other state.
type cycle struct{}

func (cycle) Reset(int) error { return nil }
func (cycle) Step(tokens []int32, out []float32) error {
	for b, tk := range tokens {
		for v := 0; v < 12; v++ {
			out[b*12+v] = -100
		}
		out[b*12+int(7+(tk-7+1)%4)] = 0
	}
	return nil
}

// Greedy continuation of a prompt.
func ExampleSampler_Sample() {
	s, _ := ar.NewSampler(vocab.DNA(), ar.SampleConfig{TopK: 1})
	out, _ := s.Sample(cycle{}, []int32{7, 8}, 1, 2, 6)
	fmt.Println(out)
	// Output:
	// [7 8 9 10 7 8 9 10]
}
