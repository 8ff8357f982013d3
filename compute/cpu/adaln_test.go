package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestSiluGrad(t *testing.T) {
	b := newBackend(2, blasGonum)
	r := rand.New(rand.NewPCG(21, 1))
	const n = 37
	x := randn(r, n, 3)
	x[0], x[1] = 40, -40 // saturated ends stay finite
	R := randn(r, n, 1)
	out := make([]float32, n)
	loss := func() float64 {
		b.SiluForward(f32(out), f32(x), n)
		return dot64(out, R)
	}
	loss()
	want := make([]float64, n)
	for i, v := range x {
		want[i] = float64(v) / (1 + math.Exp(-float64(v)))
	}
	closeTo(t, "silu out", out, want, 1e-6, 1e-6)
	dx := randn(r, n, 1) // overwritten, whatever it held
	b.SiluBackward(f32(dx), f32(x), f32(R), n)
	gradCheck(t, "silu dinp", x, dx, loss)
	alias := clone(R)
	b.SiluBackward(f32(alias), f32(x), f32(alias), n)
	closeTo(t, "silu backward in place", alias, f64s(dx), 0, 0)
}

func f64s(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// adaLN views: shift/scale/gate cut from one (B,S) modulation buffer at
// column offsets, as the model does with its (B,6C) buffer.
func TestModulateGateGrad(t *testing.T) {
	for _, b := range testBackends(t) {
		for _, dims := range [][2]int{{5, 7}, {4, 70}} { // T, C (70: two column blocks)
			T, C := dims[0], dims[1]
			const B = 3
			S := 3*C + 2 // stride wider than the views, as in a (B,6C) buffer
			r := rand.New(rand.NewPCG(uint64(C), 22))
			N := B * T * C
			x, y, res := randn(r, N, 1), randn(r, N, 1), randn(r, N, 1)
			mod := randn(r, B*S, 0.5)
			view := func(buf []float32, k int) []float32 { return buf[k*C : (B-1)*S+(k+1)*C] }
			R := randn(r, N, 1)
			out := make([]float32, N)
			mloss := func() float64 {
				b.ModulateForward(f32(out), f32(x), f32(view(mod, 0)), f32(view(mod, 1)), B, T, C, S)
				return dot64(out, R)
			}
			mloss()
			want := make([]float64, N)
			for i := range want {
				bb, c := i/(T*C), i%C
				want[i] = float64(x[i])*(1+float64(mod[bb*S+C+c])) + float64(mod[bb*S+c])
			}
			closeTo(t, tag(b)+" modulate out", out, want, 1e-6, 1e-6)
			g0 := randn(r, B*S, 1)
			dmod := clone(g0)
			dx := randn(r, N, 1) // overwritten
			b.ModulateBackward(f32(dx), f32(view(dmod, 0)), f32(view(dmod, 1)), f32(R), f32(x), f32(view(mod, 1)), B, T, C, S)
			for i := range dmod {
				dmod[i] -= g0[i]
			}
			gradCheck(t, tag(b)+" modulate dinp", x, dx, mloss)
			gradCheck(t, tag(b)+" modulate dshift/dscale", mod, dmod, mloss) // columns outside the views: 0
			alias := clone(R)
			b.ModulateBackward(f32(alias), f32(view(clone(g0), 0)), f32(view(clone(g0), 1)), f32(alias), f32(x), f32(view(mod, 1)), B, T, C, S)
			closeTo(t, tag(b)+" modulate backward in place", alias, f64s(dx), 0, 0)
			inPlace := clone(x)
			b.ModulateForward(f32(inPlace), f32(inPlace), f32(view(mod, 0)), f32(view(mod, 1)), B, T, C, S)
			closeTo(t, tag(b)+" modulate in place", inPlace, f64s(out), 0, 0)

			gloss := func() float64 {
				b.GateForward(f32(out), f32(res), f32(y), f32(view(mod, 2)), B, T, C, S)
				return dot64(out, R)
			}
			gloss()
			for i := range want {
				bb, c := i/(T*C), i%C
				want[i] = float64(res[i]) + float64(mod[bb*S+2*C+c])*float64(y[i])
			}
			closeTo(t, tag(b)+" gate out", out, want, 1e-6, 1e-6)
			dmod = clone(g0)
			dy := randn(r, N, 1) // overwritten
			b.GateBackward(f32(dy), f32(view(dmod, 2)), f32(R), f32(y), f32(view(mod, 2)), B, T, C, S)
			for i := range dmod {
				dmod[i] -= g0[i]
			}
			gradCheck(t, tag(b)+" gate dy", y, dy, gloss)
			gradCheck(t, tag(b)+" gate dgate", mod, dmod, gloss)
		}
	}
}
