package experiment_test

import (
	"fmt"
	"log"

	"github.com/seqdiff/seqdiff/experiment"
)

// The demo study's config, as `make demo` runs it: what it trains and
// compares. experiment.Run(ctx, cfg, experiment.Options{...}) runs it.
func ExampleReadConfig() {
	cfg, err := experiment.ReadConfig("../configs/study-demo.yaml")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("pre-train:", cfg.Pretrain.Mode, "for", cfg.Pretrain.MaxSteps, "steps on rows of", cfg.Prep.SeqLen)
	fmt.Println("fine-tune:", cfg.Finetune.Modes)
	for _, t := range cfg.Tasks {
		fmt.Println("task:", t.Name, "over seeds", cfg.Downstream.Seeds)
	}
	// Output:
	// pre-train: mlm for 300 steps on rows of 256
	// fine-tune: [mdlm ar]
	// task: human_or_worm over seeds [1 2 3]
}
