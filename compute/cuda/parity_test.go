//go:build linux && (amd64 || arm64)

package cuda

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/seqdiff/seqdiff/compute"
)

// Each test: fresh random inputs, the CPU backend on host copies, this
// backend on device copies (outputs poisoned with NaN first), and the
// outputs compared. Accumulating outputs start from random values, so
// "+=" versus "=" shows.

func TestEmbeddingParity(t *testing.T) {
	g := gpu(t)
	c := ref()
	for _, V := range []int{12, 1000} { // shared-memory and global-atomic backward
		r := rand.New(rand.NewPCG(uint64(V), 1))
		const N, C = 777, 96
		tok := make([]int32, N)
		for i := range tok {
			tok[i] = int32(r.IntN(V))
		}
		wte := randn(r, V*C, 1)
		dout := randn(r, N*C, 1)
		dw0 := randn(r, V*C, 1)
		out := make([]float32, N*C)
		c.EmbeddingForward(hf(out), hi(tok), hf(wte), N, C)
		gout := poisoned(t, g, N*C)
		g.EmbeddingForward(gout, upI(t, g, tok), up(t, g, wte), N, C)
		// Tolerance 0: the forward is a gather, copying values on both devices.
		same(t, fmt.Sprintf("V%d embedding out", V), down(t, g, gout), out, 0)
		dw := clone(dw0)
		c.EmbeddingBackward(hf(dw), hf(dout), hi(tok), N, C)
		gdw := up(t, g, dw0)
		g.EmbeddingBackward(gdw, up(t, g, dout), upI(t, g, tok), N, C)
		same(t, fmt.Sprintf("V%d embedding dwte", V), down(t, g, gdw), dw, f32Tol)
	}
}

func TestEmbeddingFault(t *testing.T) {
	g := freshGPU(t, Options{})
	out := g.Alloc(8 * 4)
	t.Cleanup(func() { g.Free(out) })
	g.EmbeddingForward(out, upI(t, g, []int32{0, 1, 12, 2, 3, 4, 5, 6}), up(t, g, make([]float32, 12*4)), 8, 4)
	err := g.Sync()
	if !errors.Is(err, ErrDeviceFault) {
		t.Fatalf("token 12 of vocab 12: Sync = %v, want ErrDeviceFault", err)
	}
	// The error sticks and later launches are skipped.
	g.Zero(out)
	if err2 := g.Sync(); err2 != err {
		t.Errorf("second Sync = %v, want the first error again", err2)
	}
}

func TestLayerNormParity(t *testing.T) {
	g := gpu(t)
	c := ref()
	for _, C := range []int{12, 128, 520} {
		r := rand.New(rand.NewPCG(uint64(C), 2))
		N := 301
		x := randn(r, N*C, 2)
		for i := range x {
			x[i] += float32(i%C) * 0.05
		}
		w, b := randn(r, C, 1), randn(r, C, 1)
		out, mean, rstd := make([]float32, N*C), make([]float32, N), make([]float32, N)
		c.LayerNormForward(hf(out), hf(mean), hf(rstd), hf(x), hf(w), hf(b), N, C)
		gout, gm, gr := poisoned(t, g, N*C), poisoned(t, g, N), poisoned(t, g, N)
		gx, gw, gb := up(t, g, x), up(t, g, w), up(t, g, b)
		g.LayerNormForward(gout, gm, gr, gx, gw, gb, N, C)
		tag := fmt.Sprintf("C%d layernorm", C)
		same(t, tag+" out", down(t, g, gout), out, f32Tol)
		same(t, tag+" mean", down(t, g, gm), mean, f32Tol)
		same(t, tag+" rstd", down(t, g, gr), rstd, f32Tol)
		dout := randn(r, N*C, 1)
		dx0, dw0, db0 := randn(r, N*C, 1), randn(r, C, 1), randn(r, C, 1)
		dx, dw, db := clone(dx0), clone(dw0), clone(db0)
		c.LayerNormBackward(hf(dx), hf(dw), hf(db), hf(dout), hf(x), hf(w), hf(mean), hf(rstd), N, C)
		gdx, gdw, gdb := up(t, g, dx0), up(t, g, dw0), up(t, g, db0)
		g.LayerNormBackward(gdx, gdw, gdb, up(t, g, dout), gx, gw, gm, gr, N, C)
		same(t, tag+" dinp", down(t, g, gdx), dx, f32Tol)
		same(t, tag+" dw", down(t, g, gdw), dw, f32Tol)
		same(t, tag+" db", down(t, g, gdb), db, f32Tol)
		// No input gradient wanted (the first LayerNorm of a frozen stack).
		dw2, db2 := clone(dw0), clone(db0)
		c.LayerNormBackward(hf(nil), hf(dw2), hf(db2), hf(dout), hf(x), hf(w), hf(mean), hf(rstd), N, C)
		gdw2, gdb2 := up(t, g, dw0), up(t, g, db0)
		g.LayerNormBackward(compute.F32{}, gdw2, gdb2, up(t, g, dout), gx, gw, gm, gr, N, C)
		same(t, tag+" dw (no dinp)", down(t, g, gdw2), dw2, f32Tol)
		same(t, tag+" db (no dinp)", down(t, g, gdb2), db2, f32Tol)
	}
}

func TestMatmulParity(t *testing.T) {
	for _, tf32 := range []bool{false, true} {
		t.Run(fmt.Sprintf("tf32=%v", tf32), func(t *testing.T) {
			g := gpu(t)
			tol := f32Tol
			if tf32 {
				g = freshGPU(t, Options{TF32: true})
				tol = 3e-3
			}
			c := ref()
			for _, sh := range [][3]int{{1, 5, 3}, {257, 128, 384}, {1024, 512, 2048}, {300, 2048, 12}} {
				N, IC, OC := sh[0], sh[1], sh[2]
				r := rand.New(rand.NewPCG(uint64(N*IC+OC), 3))
				x, w, bias := randn(r, N*IC, 1), randn(r, OC*IC, 0.1), randn(r, OC, 1)
				tag := fmt.Sprintf("%dx%dx%d", N, IC, OC)
				for _, withBias := range []bool{true, false} {
					bb := bias
					if !withBias {
						bb = nil
					}
					out := make([]float32, N*OC)
					c.MatmulForward(hf(out), hf(x), hf(w), hf(bb), N, IC, OC)
					gout := poisoned(t, g, N*OC)
					g.MatmulForward(gout, up(t, g, x), up(t, g, w), up(t, g, bb), N, IC, OC)
					same(t, tag+fmt.Sprintf(" bias=%v out", withBias), down(t, g, gout), out, tol)
				}
				dout := randn(r, N*OC, 1)
				dx0, dw0, db0 := randn(r, N*IC, 1), randn(r, OC*IC, 1), randn(r, OC, 1)
				dx, dw, db := clone(dx0), clone(dw0), clone(db0)
				c.MatmulBackward(hf(dx), hf(dw), hf(db), hf(dout), hf(x), hf(w), N, IC, OC)
				gdx, gdw, gdb := up(t, g, dx0), up(t, g, dw0), up(t, g, db0)
				g.MatmulBackward(gdx, gdw, gdb, up(t, g, dout), up(t, g, x), up(t, g, w), N, IC, OC)
				same(t, tag+" dinp", down(t, g, gdx), dx, tol)
				same(t, tag+" dw", down(t, g, gdw), dw, tol)
				same(t, tag+" dbias", down(t, g, gdb), db, f32Tol) // not a cuBLAS product
			}
		})
	}
}

func TestRotaryParity(t *testing.T) {
	g := gpu(t)
	c := ref()
	for _, sh := range [][5]int{{2, 7, 16, 2, 0}, {3, 100, 96, 4, 5}, {1, 1, 64, 1, 3000}} {
		B, T, C, H, pos0 := sh[0], sh[1], sh[2], sh[3], sh[4]
		r := rand.New(rand.NewPCG(uint64(T), 4))
		x := randn(r, B*T*3*C, 1)
		want := clone(x)
		c.RotaryForward(hf(want), B, T, C, H, pos0)
		gx := up(t, g, x)
		g.RotaryForward(gx, B, T, C, H, pos0)
		tag := fmt.Sprintf("B%d T%d C%d H%d pos0 %d rotary", B, T, C, H, pos0)
		same(t, tag+" forward", down(t, g, gx), want, f32Tol)
		c.RotaryBackward(hf(want), B, T, C, H, pos0)
		g.RotaryBackward(gx, B, T, C, H, pos0)
		same(t, tag+" backward", down(t, g, gx), want, f32Tol)
		same(t, tag+" round trip", want, x, 1e-6)
	}
}

func TestAttentionParity(t *testing.T) {
	g := gpu(t)
	c := ref()
	type shape struct{ B, T, C, H int }
	shapes := []shape{
		{2, 7, 32, 2},    // hd 16, one partial block
		{2, 100, 96, 4},  // hd 24: padded to 32; partial tiles
		{2, 130, 128, 4}, // hd 32, three query blocks
		{1, 257, 128, 2}, // hd 64
		{1, 70, 256, 2},  // hd 128
		{2, 1024, 128, 4},
	}
	for _, s := range shapes {
		for _, causal := range []bool{false, true} {
			for _, masked := range []bool{false, true} {
				tag := fmt.Sprintf("B%d T%d C%d H%d causal=%v mask=%v", s.B, s.T, s.C, s.H, causal, masked)
				testAttention(t, g, c, s.B, s.T, s.C, s.H, causal, masked, tag)
			}
		}
	}
}

func testAttention(t *testing.T, g *Backend, c compute.Backend, B, T, C, H int, causal, masked bool, tag string) {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(B*T*C+H), 5))
	qkv := randn(r, B*T*3*C, 1)
	var mask []int32
	if masked {
		mask = make([]int32, B*T)
		for i := range mask {
			mask[i] = int32(min(r.IntN(3), 1)) // a third padding
			if i%T < 2 {
				mask[i] = 1
			}
		}
		if B > 1 {
			for i := T; i < 2*T; i++ {
				mask[i] = 0 // row 1 has no valid key: zero output, lse -inf
			}
		}
	}
	out, lse := make([]float32, B*T*C), make([]float32, B*H*T)
	c.AttentionForward(hf(out), hf(lse), hf(qkv), hi(mask), B, T, C, H, causal)
	gqkv, gmask := up(t, g, qkv), upI(t, g, mask)
	gout, glse := poisoned(t, g, B*T*C), poisoned(t, g, B*H*T)
	g.AttentionForward(gout, glse, gqkv, gmask, B, T, C, H, causal)
	same(t, tag+" out", down(t, g, gout), out, f32Tol)
	same(t, tag+" lse", down(t, g, glse), lse, f32Tol)
	dout := randn(r, B*T*C, 1)
	dqkv := make([]float32, B*T*3*C)
	c.AttentionBackward(hf(dqkv), hf(dout), hf(qkv), hf(out), hf(lse), hi(mask), B, T, C, H, causal)
	gdqkv := poisoned(t, g, B*T*3*C) // OVERWRITTEN: every element must be written
	g.AttentionBackward(gdqkv, up(t, g, dout), gqkv, gout, glse, gmask, B, T, C, H, causal)
	got := down(t, g, gdqkv)
	for part, name := range []string{"dq", "dk", "dv"} {
		var gp, wp []float32
		for row := 0; row < B*T; row++ {
			gp = append(gp, got[row*3*C+part*C:row*3*C+(part+1)*C]...)
			wp = append(wp, dqkv[row*3*C+part*C:row*3*C+(part+1)*C]...)
		}
		same(t, tag+" "+name, gp, wp, f32Tol)
	}
}

func TestAttentionDecodeParity(t *testing.T) {
	g := gpu(t)
	c := ref()
	// Tk 6144: 48 KiB of scores plus the static scratch, past the default
	// 48 KiB, so the kernel must be opted in to more shared memory.
	for _, sh := range [][5]int{{2, 1, 8, 32, 2}, {3, 37, 64, 128, 4}, {1, 1024, 1024, 256, 4}, {1, 6144, 6144, 32, 2}} {
		B, Tk, Tmax, C, H := sh[0], sh[1], sh[2], sh[3], sh[4]
		r := rand.New(rand.NewPCG(uint64(Tk), 6))
		qkv, kc, vc := randn(r, B*3*C, 1), randn(r, B*Tmax*C, 1), randn(r, B*Tmax*C, 1)
		out := make([]float32, B*C)
		c.AttentionDecode(hf(out), hf(qkv), hf(kc), hf(vc), B, Tk, Tmax, C, H)
		gout := poisoned(t, g, B*C)
		g.AttentionDecode(gout, up(t, g, qkv), up(t, g, kc), up(t, g, vc), B, Tk, Tmax, C, H)
		same(t, fmt.Sprintf("Tk %d decode", Tk), down(t, g, gout), out, f32Tol)
	}
}

func TestElementwiseParity(t *testing.T) {
	g := gpu(t)
	c := ref()
	r := rand.New(rand.NewPCG(7, 7))
	const n = 100003
	x, y := randn(r, n, 3), randn(r, n, 1)
	// GELU forward, backward, and backward in place (dinp aliasing dout).
	out := make([]float32, n)
	c.GeluForward(hf(out), hf(x), n)
	gx, gy := up(t, g, x), up(t, g, y)
	gout := poisoned(t, g, n)
	g.GeluForward(gout, gx, n)
	same(t, "gelu forward", down(t, g, gout), out, f32Tol)
	din := make([]float32, n)
	c.GeluBackward(hf(din), hf(x), hf(y), n)
	gdin := poisoned(t, g, n)
	g.GeluBackward(gdin, gx, gy, n)
	same(t, "gelu backward", down(t, g, gdin), din, f32Tol)
	galias := up(t, g, y)
	g.GeluBackward(galias, gx, galias, n)
	same(t, "gelu backward in place", down(t, g, galias), din, f32Tol)
	// Add, Accumulate, Scale, to tolerance 0: one correctly rounded
	// IEEE-754 operation per element on both devices.
	sum := make([]float32, n)
	c.Add(hf(sum), hf(x), hf(y), n)
	gsum := poisoned(t, g, n)
	g.Add(gsum, gx, gy, n)
	same(t, "add", down(t, g, gsum), sum, 0)
	acc := clone(x)
	c.Accumulate(hf(acc), hf(y), n)
	c.Scale(hf(acc), n, -0.37)
	gacc := up(t, g, x)
	g.Accumulate(gacc, gy, n)
	g.Scale(gacc, n, -0.37)
	same(t, "accumulate+scale", down(t, g, gacc), acc, 0)
	// Zero and Copy.
	g.Copy(gacc, gx)
	same(t, "copy", down(t, g, gacc), x, 0)
	g.Zero(gacc)
	same(t, "zero", down(t, g, gacc), make([]float32, n), 0)
}

func TestCrossEntropyParity(t *testing.T) {
	g := gpu(t)
	c := ref()
	for _, V := range []int{12, 50257} {
		r := rand.New(rand.NewPCG(uint64(V), 8))
		N := 517
		if V > 1000 {
			N = 64
		}
		logits := randn(r, N*V, 3)
		targets := make([]int32, N)
		weights := make([]float32, N)
		for i := range targets {
			targets[i] = int32(r.IntN(V))
			weights[i] = float32(r.Float64() * 4)
			switch i % 11 {
			case 3:
				targets[i] = -100 // ignored
			case 5:
				weights[i] = 0
			case 7:
				targets[i] = 3 // the banned class: +Inf loss
			}
		}
		targets[N-1] = int32(V) // out of range: NaN loss and gradients
		for _, backward := range []bool{false, true} {
			for _, withW := range []bool{true, false} {
				w := weights
				if !withW {
					w = nil
				}
				tag := fmt.Sprintf("V%d backward=%v weights=%v", V, backward, withW)
				lg, losses := clone(logits), make([]float32, N)
				c.CrossEntropy(hf(losses), hf(lg), hi(targets), hf(w), N, V, -100, 3, backward, 0.25)
				glg, glosses := up(t, g, logits), poisoned(t, g, N)
				g.CrossEntropy(glosses, glg, upI(t, g, targets), up(t, g, w), N, V, -100, 3, backward, 0.25)
				same(t, tag+" losses", down(t, g, glosses), losses, f32Tol)
				same(t, tag+" logits/dlogits", down(t, g, glg), lg, f32Tol)
			}
		}
	}
}

func TestSoftmaxParity(t *testing.T) {
	g := gpu(t)
	c := ref()
	for _, V := range []int{12, 5000} {
		r := rand.New(rand.NewPCG(uint64(V), 9))
		const N = 203
		logits := randn(r, N*V, 2)
		for i := 0; i < V; i++ {
			logits[i] = 1 // ties in row 0: greedy takes the first allowed
		}
		glg := up(t, g, logits)
		for _, temp := range []float32{0, 0.7, 1} {
			for _, banned := range []int{-1, 0, 3} {
				p := make([]float32, N*V)
				c.Softmax(hf(p), hf(logits), N, V, banned, temp)
				gp := poisoned(t, g, N*V)
				g.Softmax(gp, glg, N, V, banned, temp)
				same(t, fmt.Sprintf("V%d T%v banned %d softmax", V, temp, banned), down(t, g, gp), p, f32Tol)
			}
		}
	}
}

func TestMeanPoolParity(t *testing.T) {
	g := gpu(t)
	c := ref()
	const B, T, C = 3, 50, 40
	r := rand.New(rand.NewPCG(10, 10))
	x := randn(r, B*T*C, 1)
	for _, masked := range []bool{false, true} {
		var mask []int32
		if masked {
			mask = make([]int32, B*T)
			for i := range mask {
				if i < T || (i >= 2*T && i%3 == 0) { // row 1: no valid position
					mask[i] = 1
				}
			}
		}
		out := make([]float32, B*C)
		c.MeanPoolForward(hf(out), hf(x), hi(mask), B, T, C)
		gout := poisoned(t, g, B*C)
		gmask := upI(t, g, mask)
		g.MeanPoolForward(gout, up(t, g, x), gmask, B, T, C)
		same(t, fmt.Sprintf("mask=%v meanpool forward", masked), down(t, g, gout), out, f32Tol)
		dout, d0 := randn(r, B*C, 1), randn(r, B*T*C, 1)
		din := clone(d0)
		c.MeanPoolBackward(hf(din), hf(dout), hi(mask), B, T, C)
		gdin := up(t, g, d0)
		g.MeanPoolBackward(gdin, up(t, g, dout), gmask, B, T, C)
		same(t, fmt.Sprintf("mask=%v meanpool backward", masked), down(t, g, gdin), din, f32Tol)
	}
}

func TestOptimiserParity(t *testing.T) {
	g := gpu(t)
	c := ref()
	r := rand.New(rand.NewPCG(11, 11))
	const n = 70001
	p, grad, m := randn(r, n, 1), randn(r, n, 0.1), randn(r, n, 0.01)
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(math.Abs(r.NormFloat64())) * 1e-4
	}
	gp, gg, gm, gv := up(t, g, p), up(t, g, grad), up(t, g, m), up(t, g, v)
	for step := 1; step <= 3; step++ {
		c.AdamW(hf(p), hf(grad), hf(m), hf(v), n, 1e-3, 0.9, 0.999, 1e-8, 0.01, step)
		g.AdamW(gp, gg, gm, gv, n, 1e-3, 0.9, 0.999, 1e-8, 0.01, step)
	}
	same(t, "adamw params", down(t, g, gp), p, f32Tol)
	same(t, "adamw m", down(t, g, gm), m, f32Tol)
	same(t, "adamw v", down(t, g, gv), v, f32Tol)
	e := randn(r, n, 1)
	ge := up(t, g, e)
	c.EMA(hf(e), hf(p), n, 0.999)
	g.EMA(ge, gp, n, 0.999)
	same(t, "ema", down(t, g, ge), e, f32Tol)
	for _, k := range []int{1, 255, 256, 257, n} {
		want := c.SumSquares(hf(p[:k]), k)
		got := g.SumSquares(gp.Slice(0, k), k)
		if math.Abs(got-want) > 1e-9*math.Abs(want) {
			t.Errorf("SumSquares(%d) = %v, cpu %v", k, got, want)
		}
	}
	p[5] = float32(math.Inf(1))
	g.Upload(gp, p)
	if s := g.SumSquares(gp, n); !math.IsInf(s, 1) {
		t.Errorf("SumSquares with +Inf = %v", s)
	}
}
