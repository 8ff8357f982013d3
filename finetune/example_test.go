package finetune_test

import (
	"fmt"
	"strings"

	"github.com/seqdiff/seqdiff/finetune"
)

// SplitIndex holds out a fixed, stratified share of every class.
func ExampleSplitIndex() {
	labels := []string{"a", "a", "a", "a", "a", "b", "b", "b", "b", "b"}
	held := finetune.SplitIndex(labels, 0.2, finetune.SplitSeed)
	n := map[string]int{}
	for i, h := range held {
		if h {
			n[labels[i]]++
		}
	}
	fmt.Println(n["a"], n["b"])
	// Output: 1 1
}

// HumanOrWorm derives a labelled task from the embedded genome slices.
func ExampleHumanOrWorm() {
	var b strings.Builder
	n, err := finetune.HumanOrWorm(&b, finetune.HumanOrWormOptions{PerClass: 5, Len: 200})
	if err != nil {
		fmt.Println(err)
		return
	}
	lines := strings.Split(b.String(), "\n")
	fmt.Println(n, lines[0])
	// Output: 10 seq	label
}
