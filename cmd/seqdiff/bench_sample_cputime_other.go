//go:build !unix

package main

import "time"

// processCPU is unavailable here; bench sample then reports wall time only.
func processCPU() (time.Duration, bool) { return 0, false }
