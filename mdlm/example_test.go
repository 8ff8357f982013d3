package mdlm_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/seqdiff/seqdiff/mdlm"
	"github.com/seqdiff/seqdiff/vocab"
)

// uniformDNA is a stand-in model: every position is A, C, G or T with
// equal probability whatever the input.
type uniformDNA struct{}

func (uniformDNA) Logits(z []int32, B, L int, t []float32, out []float32) error {
	for i := range out {
		out[i] = -1e9
		if v := i % 12; v >= 7 && v <= 10 {
			out[i] = 0
		}
	}
	return nil
}

// A training batch: stratified times, forward masking, and the weighted
// cross-entropy's inputs.
func ExampleForward() {
	v := vocab.DNA()
	rng := rand.New(rand.NewPCG(1, 2))
	x0 := []int32{7, 8, 9, 10, 7, 8, 4, 4} // two rows of 4; the second ends in PAD
	t := make([]float32, 2)
	if err := mdlm.SampleT(rng, mdlm.Stratified, mdlm.DefaultEps, t); err != nil {
		fmt.Println(err)
		return
	}
	var b mdlm.Batch
	if err := mdlm.Forward(v, mdlm.LogLinear{Eps: mdlm.DefaultEps}, x0, 2, 4, t, rng, &b); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("non-PAD tokens:", b.Norm)
	for i, w := range b.Weights {
		if w != 0 && w != 1/b.T[i/4] {
			fmt.Println("weight is not 1/t")
		}
	}
	// Output:
	// non-PAD tokens: 6
}

// Infilling: clamp a prefix and a suffix, generate the middle.
func ExampleSampler_Sample() {
	v := vocab.DNA()
	s, err := mdlm.NewSampler(uniformDNA{}, v, mdlm.SampleConfig{Steps: 16, Cache: true, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	z, _ := mdlm.Template(v, 10, []int32{7, 7, 7}, []int32{10, 10})
	if err := s.Sample(z, 1, 10); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(z[:3], z[8:])
	// Output:
	// [7 7 7] [10 10]
}

// The NELBO of the uniform model on any DNA is log 4 per token (up to the
// Monte Carlo error and the eps truncation).
func ExampleEvaluator() {
	v := vocab.DNA()
	ev, _ := mdlm.NewEvaluator(uniformDNA{}, v, mdlm.NELBOConfig{K: 64, Seed: 1})
	x := make([]int32, 64)
	for i := range x {
		x[i] = int32(7 + i%4)
	}
	if err := ev.Add(x, 1, 64); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("perplexity <= %.1f\n", ev.Perplexity())
	// Output:
	// perplexity <= 4.0
}

// How many model calls ddpm_cache saves for one 1024-base row: about
// T (1 - e^{-L/T}), 1.56x fewer than ddpm at T = 1000, 10.3x at T = 10000.
func ExampleExpectedCalls() {
	for _, T := range []int{1000, 10000} {
		e := mdlm.ExpectedCalls(nil, T, 1, 1024)
		fmt.Printf("T=%d: ddpm %.1f, ddpm_cache %.1f, %.2fx\n", T, e.Calls, e.CacheCalls, e.Calls/e.CacheCalls)
	}
	// Output:
	// T=1000: ddpm 999.4, ddpm_cache 641.0, 1.56x
	// T=10000: ddpm 9990.7, ddpm_cache 973.4, 10.26x
}
