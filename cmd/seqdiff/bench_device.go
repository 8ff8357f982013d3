package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/seqdiff/seqdiff/compute"
	"github.com/seqdiff/seqdiff/compute/cpu"
	"github.com/seqdiff/seqdiff/compute/cuda"
)

// modelBackend opens the backend named by device: "cpu" (threads
// goroutines, 0 = all cores) or "cuda" / "cuda:N" (GPU N, default 0). The
// returned close releases it.
func modelBackend(device string, threads int) (compute.Backend, func(), error) {
	switch {
	case device == "" || device == "cpu":
		return cpu.New(threads), func() {}, nil
	case device == "cuda" || strings.HasPrefix(device, "cuda:"):
		n := 0
		if rest, ok := strings.CutPrefix(device, "cuda:"); ok {
			var err error
			if n, err = strconv.Atoi(rest); err != nil || n < 0 {
				return nil, nil, fmt.Errorf("--device %q: want cuda:N with N a GPU number", device)
			}
		}
		be, err := cuda.New(cuda.Options{Device: n})
		if err != nil {
			return nil, nil, err
		}
		return be, func() { be.Close() }, nil
	}
	return nil, nil, fmt.Errorf("--device %q: want cpu, cuda or cuda:N", device)
}
