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

// Hidden states of DNA sequences as features: the mean of the final
// states (after final_ln) over each sequence's positions, or every
// position of one layer. Sequences run at their own length.
func ExampleModel_Embed() {
	cfg := nn.DefaultConfig(12, 32, 2, 4, 64, nn.ModeMDLM)
	model, err := nn.New(cpu.New(1), cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer model.Free()
	model.Init(1)
	// A, C, G, T are the ids 7, 8, 9, 10 (package vocab).
	seqs := [][]int32{{7, 8, 9, 10, 7, 8}, {9, 9, 10}, {7, 7, 7, 8}}
	pooled, err := model.Embed(seqs, nn.EmbedOptions{Layer: -1, Pool: nn.PoolMean})
	if err != nil {
		log.Fatal(err)
	}
	perBase, err := model.Embed(seqs, nn.EmbedOptions{Layer: 1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("pooled: %d vectors of %d\n", len(pooled), len(pooled[0]))
	fmt.Printf("layer 1, every position: %d x %d values for %d bases\n", len(perBase[1])/cfg.DModel, cfg.DModel, len(seqs[1]))
	// Output:
	// pooled: 3 vectors of 32
	// layer 1, every position: 3 x 32 values for 3 bases
}
