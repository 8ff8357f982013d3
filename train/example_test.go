package train_test

import (
	"fmt"

	"github.com/seqdiff/seqdiff/train"
)

// The learning rate of a 1000-step run with 100 warm-up steps: linear
// warm-up, then a cosine decay to 10% of the peak.
func ExampleLR() {
	for _, step := range []int{0, 49, 99, 550, 999, 1200} {
		fmt.Printf("step %4d: lr %.2e\n", step, train.LR(step, 100, 1000, 3e-4, 0.1))
	}
	// Output:
	// step    0: lr 3.00e-06
	// step   49: lr 1.50e-04
	// step   99: lr 3.00e-04
	// step  550: lr 1.65e-04
	// step  999: lr 3.00e-05
	// step 1200: lr 3.00e-05
}
