//go:build linux && (amd64 || arm64)

package cuda

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestAdaLNParity(t *testing.T) {
	g := gpu(t)
	c := ref()
	for _, dims := range [][3]int{{3, 50, 40}, {2, 1024, 128}} { // B, T, C: a partial column block; the dna-small shape
		B, T, C := dims[0], dims[1], dims[2]
		S := 6 * C
		N := B * T * C
		tag := fmt.Sprintf("B%d T%d C%d", B, T, C)
		r := rand.New(rand.NewPCG(uint64(C), 30))
		x, y, res, dout := randn(r, N, 1), randn(r, N, 1), randn(r, N, 1), randn(r, N, 1)
		mod, dmod0 := randn(r, B*S, 0.5), randn(r, B*S, 1)
		gx, gy, gres, gdout, gmod := up(t, g, x), up(t, g, y), up(t, g, res), up(t, g, dout), up(t, g, mod)
		view := func(k int) (int, int) { return k * C, (B-1)*S + C }

		// SiLU on the (B,C) embedding shape and on the whole tensor.
		for _, n := range []int{B * C, N} {
			out := make([]float32, n)
			c.SiluForward(hf(out), hf(x[:n]), n)
			gout := poisoned(t, g, n)
			g.SiluForward(gout, gx.Slice(0, n), n)
			same(t, tag+" silu forward", down(t, g, gout), out, f32Tol)
			din := make([]float32, n)
			c.SiluBackward(hf(din), hf(x[:n]), hf(dout[:n]), n)
			gdin := poisoned(t, g, n)
			g.SiluBackward(gdin, gx.Slice(0, n), gdout.Slice(0, n), n)
			same(t, tag+" silu backward", down(t, g, gdin), din, f32Tol)
		}

		o0, l0 := view(0)
		o1, l1 := view(1)
		o2, l2 := view(2)
		out := make([]float32, N)
		c.ModulateForward(hf(out), hf(x), hf(mod[o0:o0+l0]), hf(mod[o1:o1+l1]), B, T, C, S)
		gout := poisoned(t, g, N)
		g.ModulateForward(gout, gx, gmod.Slice(o0, l0), gmod.Slice(o1, l1), B, T, C, S)
		same(t, tag+" modulate forward", down(t, g, gout), out, f32Tol)
		din, dmod := make([]float32, N), clone(dmod0)
		c.ModulateBackward(hf(din), hf(dmod[o0:o0+l0]), hf(dmod[o1:o1+l1]), hf(dout), hf(x), hf(mod[o1:o1+l1]), B, T, C, S)
		gdin, gdmod := poisoned(t, g, N), up(t, g, dmod0)
		g.ModulateBackward(gdin, gdmod.Slice(o0, l0), gdmod.Slice(o1, l1), gdout, gx, gmod.Slice(o1, l1), B, T, C, S)
		same(t, tag+" modulate backward dinp", down(t, g, gdin), din, f32Tol)
		same(t, tag+" modulate backward dshift/dscale", down(t, g, gdmod), dmod, 1e-4)

		c.GateForward(hf(out), hf(res), hf(y), hf(mod[o2:o2+l2]), B, T, C, S)
		g.GateForward(gout, gres, gy, gmod.Slice(o2, l2), B, T, C, S)
		same(t, tag+" gate forward", down(t, g, gout), out, f32Tol)
		dy, dmod := make([]float32, N), clone(dmod0)
		c.GateBackward(hf(dy), hf(dmod[o2:o2+l2]), hf(dout), hf(y), hf(mod[o2:o2+l2]), B, T, C, S)
		gdy, gdmod := poisoned(t, g, N), up(t, g, dmod0)
		g.GateBackward(gdy, gdmod.Slice(o2, l2), gdout, gy, gmod.Slice(o2, l2), B, T, C, S)
		same(t, tag+" gate backward dy", down(t, g, gdy), dy, f32Tol)
		same(t, tag+" gate backward dgate", down(t, g, gdmod), dmod, 1e-4)
	}
}
