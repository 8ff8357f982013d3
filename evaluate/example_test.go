package evaluate_test

import (
	"fmt"

	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/evaluate"
)

// Task metrics on a binary prediction.
func ExampleMCC() {
	truth := []int{1, 1, 1, 1, 0, 0, 0, 0}
	pred := []int{1, 1, 1, 0, 0, 0, 0, 1}
	acc, _ := evaluate.Accuracy(truth, pred)
	mcc, _ := evaluate.MCC(truth, pred, 2)
	f1, _ := evaluate.MacroF1(truth, pred, 2)
	fmt.Printf("accuracy %.3f, MCC %.3f, macro F1 %.3f\n", acc, mcc, f1)
	// Output:
	// accuracy 0.750, MCC 0.500, macro F1 0.750
}

// Scores over seeds.
func ExampleSummarize() {
	s, _ := evaluate.Summarize([]float64{0.71, 0.74, 0.69})
	fmt.Printf("%.3f (min %.2f, max %.2f)\n", s.Mean, s.Min, s.Max)
	// Output:
	// 0.713 (min 0.69, max 0.74)
}

// A k-mer baseline on a periodic sequence: order 0 sees four equally
// frequent bases, order 1 knows what comes next.
func ExampleKmer() {
	row := make([]uint8, 4000)
	for i := range row {
		row[i] = uint8(7 + i%4) // A C G T A C G T ...
	}
	m, _ := evaluate.NewKmer(evaluate.KmerConfig{Order: 2})
	m.Add(row)
	for k := 0; k <= 1; k++ {
		nll, _ := m.Perplexity([][]uint8{row[:400]}, k)
		fmt.Printf("order %d: perplexity %.2f\n", k, nll.Perplexity())
	}
	// Output:
	// order 0: perplexity 4.00
	// order 1: perplexity 1.00
}

// Generated DNA against real DNA: a sampler stuck on poly-A runs has
// homopolymers and a low 3-mer entropy, and its k-mer spectrum is far from
// the real one.
func ExampleCompareSamples() {
	ids := func(ss ...string) [][]int32 {
		var out [][]int32
		for _, s := range ss {
			x, _ := dataprep.DNA{}.Encode([]byte(s))
			out = append(out, x)
		}
		return out
	}
	real := ids("ACGTTGCAACGGATCCTTAG", "TTTACGGACACAGTAGCTAA")
	samples := ids("AAAAAAAAAAGCAAAAAAAA", "ACGTTGCAAAAAAAAAAAAA")
	q, _ := evaluate.CompareSamples(samples, real, nil)
	for _, r := range []struct {
		name string
		s    evaluate.SetStats
	}{{"samples", q.Samples}, {"real", q.Reference}} {
		fmt.Printf("%-7s GC %.3f, 3-mer entropy %.2f bits, homopolymer share %.2f\n", r.name, r.s.GCMean, r.s.Entropy3Mean, r.s.HomopolymerShare)
	}
	fmt.Printf("JS at k = 1: %.3f %s, k = 3: %.3f\n", q.KmerJS[1], q.JSUnit, q.KmerJS[3])
	// Output:
	// samples GC 0.150, 3-mer entropy 1.63 bits, homopolymer share 0.78
	// real    GC 0.450, 3-mer entropy 4.06 bits, homopolymer share 0.00
	// JS at k = 1: 0.194 bits, k = 3: 0.740
}
