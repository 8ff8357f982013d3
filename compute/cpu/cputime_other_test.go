//go:build !unix

package cpu

import "time"

// cpuTime: no portable process CPU clock here; benchmarks report wall time only.
func cpuTime() (time.Duration, bool) { return 0, false }
