package nn_test

import (
	"fmt"
	"log"

	"github.com/seqdiff/seqdiff/compute/cpu"
	"github.com/seqdiff/seqdiff/nn"
)

// A few AR training steps of a tiny backbone on one repeated sequence:
// forward to logits, fused cross-entropy, backward, AdamW.
func Example() {
	cfg := nn.DefaultConfig(12, 32, 2, 4, 64, nn.ModeAR)
	model, err := nn.New(cpu.New(1), cfg)
	if err != nil {
		log.Fatal(err)
	}
	model.Init(1)
	model.EnableTraining()
	ocfg := nn.DefaultAdamW()
	ocfg.LR = 1e-2
	opt := nn.NewOptimizer(model, ocfg)

	// Two rows of 17 tokens: ACGT repeated; the model reads 16, predicts 16.
	x0 := make([]int32, 2*17)
	for i := range x0 {
		x0[i] = 7 + int32(i%17%4)
	}
	batch, err := nn.NewObjective(cfg).Inputs(x0, 2, 17, nil)
	if err != nil {
		log.Fatal(err)
	}
	var first, last float64
	for step := 0; step < 30; step++ {
		loss, err := model.Loss(batch, nil, true)
		if err != nil {
			log.Fatal(err)
		}
		model.ZeroGrad()
		if err := model.Backward(); err != nil {
			log.Fatal(err)
		}
		if _, err := opt.Update(model, ocfg.LR); err != nil {
			log.Fatal(err)
		}
		if step == 0 {
			first = loss
		}
		last = loss
	}
	fmt.Printf("%d parameters; loss %.1f at the start, below 0.5 after 30 steps: %v\n", model.NumParams(), first, last < 0.5)
	// Output:
	// 25996 parameters; loss 2.5 at the start, below 0.5 after 30 steps: true
}
