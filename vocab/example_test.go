package vocab_test

import (
	"fmt"

	"github.com/seqdiff/seqdiff/vocab"
)

func ExampleReverseComplement() {
	ids := []uint8{vocab.A, vocab.C, vocab.C, vocab.N}
	vocab.ReverseComplement(ids)
	for _, id := range ids {
		fmt.Print(vocab.DNANames[id])
	}
	fmt.Println()
	// Output: NGGT
}
