package cpu_test

import (
	"fmt"
	"math"

	"github.com/seqdiff/seqdiff/compute/cpu"
)

// A linear layer forward in PyTorch nn.Linear layout, then a softmax over
// its outputs with class 2 banned (its probability is 0).
func ExampleNew() {
	be := cpu.New(1)
	x := be.Alloc(2 * 3) // (N=2, IC=3)
	w := be.Alloc(3 * 3) // (OC=3, IC=3)
	bias := be.Alloc(3)
	out := be.Alloc(2 * 3)
	be.Upload(x, []float32{1, 0, 0, 0, 1, 0})
	be.Upload(w, []float32{0, 0, 0, float32(math.Ln2), 0, 0, 5, 5, 5}) // row o: weights of output o
	be.Upload(bias, []float32{0, 0, 0})
	be.MatmulForward(out, x, w, bias, 2, 3, 3)
	probs := be.Alloc(2 * 3)
	be.Softmax(probs, out, 2, 3, 2, 1)
	got := make([]float32, 6)
	be.Download(got, probs)
	fmt.Printf("%.4f\n", got)
	// Output: [0.3333 0.6667 0.0000 0.5000 0.5000 0.0000]
}
