//go:build !unix

package train

import "time"

// processCPU is unavailable here; BenchSample then reports wall time only.
func processCPU() (time.Duration, bool) { return 0, false }
