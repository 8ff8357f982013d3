package cuda

import "fmt"

// Launch-configuration arithmetic, kept free of CUDA so it is unit-tested
// without a GPU.

type dim3 struct{ x, y, z int }

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// empty reports a grid with no blocks: CUDA rejects it
// (CUDA_ERROR_INVALID_VALUE), and there is nothing to run.
func (d dim3) empty() bool { return d.x <= 0 || d.y <= 0 || d.z <= 0 }

// gridFor is the 1-D grid for n items at threads per block, capped at
// maxBlocks (kernels loop grid-stride over the rest); 0 when n <= 0.
func gridFor(n, threads, maxBlocks int) int {
	if n <= 0 {
		return 0
	}
	g := ceilDiv(n, threads)
	if maxBlocks > 0 && g > maxBlocks {
		g = maxBlocks
	}
	return g
}

// Attention tiling: a block is attnBQ threads, one query (forward, dq) or
// one key (dk, dv) each; K/V (or Q/dO) tiles of attnBK rows are staged in
// shared memory, rows padded to the compiled head-dim bound HD.
const attnBQ = 64

// attnHD picks the compiled head-dimension bound for hd (the kernels are
// instantiated for 16, 32, 64 and 128; a smaller hd runs zero-padded).
func attnHD(hd int) (int, error) {
	for _, h := range []int{16, 32, 64, 128} {
		if hd <= h {
			return h, nil
		}
	}
	return 0, fmt.Errorf("cuda: attention head dim %d > 128 is not supported", hd)
}

// attnBK is the key-tile length for bound HD: the per-thread score array
// has attnBK registers, so it shrinks as q and o grow.
func attnBK(HD int) int {
	if HD >= 128 {
		return 16
	}
	return 32
}

// attnSmem is the dynamic shared memory of an attention block: two tiles
// of BK rows of HD floats plus BK key-valid flags and BK row scalars.
func attnSmem(HD int) int {
	bk := attnBK(HD)
	return (2*bk*HD + 2*bk) * 4
}

// attnGrid covers T rows in blocks of attnBQ, for each head and batch row.
func attnGrid(B, T, H int) dim3 { return dim3{ceilDiv(T, attnBQ), H, B} }

// nvrtcTarget is what to compile for a device of compute capability cc
// (major*10+minor) with an NVRTC that supports the capabilities in
// supported (nil: unknown, assume cc): the device's own machine code
// "sm_CC" when NVRTC knows it; else PTX for the newest older virtual
// architecture, "compute_XX", which the driver compiles at load (a GPU
// newer than the toolkit). ok is false when NVRTC knows nothing <= cc.
func nvrtcTarget(cc int, supported []int) (target string, ok bool) {
	if supported == nil {
		return fmt.Sprintf("sm_%d", cc), true
	}
	best := -1
	for _, a := range supported {
		if a == cc {
			return fmt.Sprintf("sm_%d", cc), true
		}
		if a < cc && a > best {
			best = a
		}
	}
	if best < 0 {
		return "", false
	}
	return fmt.Sprintf("compute_%d", best), true
}
