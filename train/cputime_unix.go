//go:build unix

package train

import (
	"syscall"
	"time"
)

// processCPU is this process's user+system CPU time. BenchSample reports
// it beside wall time because the machine may be shared: CPU time barely
// moves when other processes compete for the cores, wall time does.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
