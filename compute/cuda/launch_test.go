package cuda

import "testing"

func TestGridFor(t *testing.T) {
	for _, c := range []struct{ n, threads, maxB, want int }{
		{0, 256, 100, 0}, {-1, 256, 100, 0}, {1, 256, 100, 1}, {256, 256, 100, 1}, {257, 256, 100, 2},
		{1 << 20, 256, 100, 100}, {1 << 20, 256, 0, 4096},
	} {
		if got := gridFor(c.n, c.threads, c.maxB); got != c.want {
			t.Errorf("gridFor(%d,%d,%d) = %d, want %d", c.n, c.threads, c.maxB, got, c.want)
		}
	}
}

func TestEmptyGrid(t *testing.T) {
	for _, c := range []struct {
		g    dim3
		want bool
	}{
		{dim3{1, 1, 1}, false}, {dim3{gridFor(0, 256, 100), 1, 1}, true},
		{dim3{ceilDiv(0, 8), 1, 1}, true}, {attnGrid(0, 64, 4), true}, {attnGrid(2, 0, 4), true},
		{attnGrid(2, 64, 0), true}, {attnGrid(2, 1, 1), false}, {dim3{4, 0, 1}, true},
	} {
		if got := c.g.empty(); got != c.want {
			t.Errorf("%v.empty() = %v, want %v", c.g, got, c.want)
		}
	}
}

func TestAttentionConfig(t *testing.T) {
	for _, c := range []struct{ hd, HD int }{{8, 16}, {16, 16}, {24, 32}, {32, 32}, {48, 64}, {64, 64}, {96, 128}, {128, 128}} {
		HD, err := attnHD(c.hd)
		if err != nil || HD != c.HD {
			t.Errorf("attnHD(%d) = %d, %v; want %d", c.hd, HD, err, c.HD)
		}
		// The tile loaders and float4 reads need HD a multiple of 4 and
		// the tile a whole number of BK rows inside a block of attnBQ.
		if HD%4 != 0 || attnBQ%attnBK(HD) != 0 {
			t.Errorf("HD %d, BK %d, BQ %d: misaligned tiles", HD, attnBK(HD), attnBQ)
		}
		if s := attnSmem(HD); s > 48*1024 {
			t.Errorf("HD %d: %d bytes of shared memory, over the 48 KiB that needs no opt-in", HD, s)
		}
	}
	if _, err := attnHD(129); err == nil {
		t.Error("attnHD(129): no error")
	}
	if g := attnGrid(8, 1024, 4); g != (dim3{16, 4, 8}) {
		t.Errorf("attnGrid(8,1024,4) = %v", g)
	}
	if g := attnGrid(2, 65, 3); g != (dim3{2, 3, 2}) {
		t.Errorf("attnGrid(2,65,3) = %v (a partial last block)", g)
	}
	// The kernel reads 2*BK*HD + 2*BK floats of dynamic shared memory.
	if s := attnSmem(64); s != (2*32*64+2*32)*4 {
		t.Errorf("attnSmem(64) = %d", s)
	}
}

func TestNVRTCTarget(t *testing.T) {
	nv118 := []int{35, 37, 50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90}
	for _, c := range []struct {
		cc     int
		supp   []int
		want   string
		wantOK bool
	}{
		{90, nv118, "sm_90", true},
		{80, nv118, "sm_80", true},
		{100, nv118, "compute_90", true}, // a GPU newer than the toolkit: PTX the driver compiles
		{120, []int{75, 80, 100}, "compute_100", true},
		{90, nil, "sm_90", true}, // NVRTC before 11.2 cannot list: try the device's own
		{30, nv118, "", false},
	} {
		got, ok := nvrtcTarget(c.cc, c.supp)
		if got != c.want || ok != c.wantOK {
			t.Errorf("nvrtcTarget(%d) = %q, %v; want %q, %v", c.cc, got, ok, c.want, c.wantOK)
		}
	}
}
