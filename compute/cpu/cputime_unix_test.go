//go:build unix

package cpu

import (
	"syscall"
	"time"
)

// cpuTime is this process's user+system CPU time. Benchmarks report it per
// op ("cpu-ms/op") beside wall time because the machine is shared: CPU time
// barely moves when other processes compete for the cores, wall time does.
func cpuTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
