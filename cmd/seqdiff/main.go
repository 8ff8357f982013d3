// Command seqdiff trains and compares masked diffusion (MDLM) and
// autoregressive language models on DNA.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "seqdiff:", err)
		os.Exit(1)
	}
}
