package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// benchPeakRSSMiB is the process's peak resident set size (VmHWM in
// /proc/self/status) in MiB, or 0 where /proc is not available.
func benchPeakRSSMiB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fields := strings.Fields(rest)
			if len(fields) >= 1 {
				kb, err := strconv.ParseFloat(fields[0], 64)
				if err == nil {
					return kb / 1024
				}
			}
		}
	}
	return 0
}
