package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestEmbeddingGrad(t *testing.T) {
	for _, b := range testBackends(t) {
		r := rand.New(rand.NewPCG(1, 2))
		const V, C, N = 5, 12, 9
		tok := []int32{0, 3, 3, 4, 1, 0, 3, 2, 4}
		wte := randn(r, V*C, 1)
		R := randn(r, N*C, 1)
		out := make([]float32, N*C)
		loss := func() float64 {
			b.EmbeddingForward(f32(out), i32(tok), f32(wte), N, C)
			return dot64(out, R)
		}
		g0 := randn(r, V*C, 1)
		dw := clone(g0)
		b.EmbeddingBackward(f32(dw), f32(R), i32(tok), N, C)
		for i := range dw {
			dw[i] -= g0[i] // backward accumulates
		}
		gradCheck(t, tag(b)+" embedding dwte", wte, dw, loss)
	}
}

func TestLayerNormGrad(t *testing.T) {
	for _, b := range testBackends(t) {
		for _, C := range []int{12, 16} { // 16: the vector path
			testLayerNormGrad(t, b, 7, C)
		}
	}
}

func testLayerNormGrad(t *testing.T, b *Backend, N, C int) {
	{
		r := rand.New(rand.NewPCG(3, 4))
		x := randn(r, N*C, 1)
		for i := range x {
			x[i] += float32(i%C) * 0.1 // non-zero mean per row
		}
		w := randn(r, C, 1)
		bias := randn(r, C, 1)
		R := randn(r, N*C, 1)
		out, mean, rstd := make([]float32, N*C), make([]float32, N), make([]float32, N)
		loss := func() float64 {
			b.LayerNormForward(f32(out), f32(mean), f32(rstd), f32(x), f32(w), f32(bias), N, C)
			return dot64(out, R)
		}
		loss()
		// forward against float64
		want := make([]float64, N*C)
		for n := 0; n < N; n++ {
			var m, v float64
			for i := 0; i < C; i++ {
				m += float64(x[n*C+i])
			}
			m /= float64(C)
			for i := 0; i < C; i++ {
				d := float64(x[n*C+i]) - m
				v += d * d
			}
			v /= float64(C)
			for i := 0; i < C; i++ {
				want[n*C+i] = (float64(x[n*C+i])-m)/math.Sqrt(v+1e-5)*float64(w[i]) + float64(bias[i])
			}
		}
		closeTo(t, tag(b)+" layernorm out", out, want, 1e-5, 1e-5)
		g0 := randn(r, N*C, 1)
		dx, dw, db := clone(g0), clone(g0[:C]), clone(g0[C:2*C])
		b.LayerNormBackward(f32(dx), f32(dw), f32(db), f32(R), f32(x), f32(w), f32(mean), f32(rstd), N, C)
		for i := range dx {
			dx[i] -= g0[i]
		}
		for i := 0; i < C; i++ {
			dw[i] -= g0[i]
			db[i] -= g0[C+i]
		}
		gradCheck(t, tag(b)+" layernorm dinp", x, dx, loss)
		gradCheck(t, tag(b)+" layernorm dw", w, dw, loss)
		gradCheck(t, tag(b)+" layernorm db", bias, db, loss)
	}
}

func TestMatmulGrad(t *testing.T) {
	for _, b := range testBackends(t) {
		for _, withBias := range []bool{true, false} {
			r := rand.New(rand.NewPCG(5, 6))
			const N, IC, OC = 7, 12, 5
			x := randn(r, N*IC, 1)
			w := randn(r, OC*IC, 1)
			var bias []float32
			if withBias {
				bias = randn(r, OC, 1)
			}
			R := randn(r, N*OC, 1)
			out := make([]float32, N*OC)
			loss := func() float64 {
				b.MatmulForward(f32(out), f32(x), f32(w), f32(bias), N, IC, OC)
				return dot64(out, R)
			}
			loss()
			want := make([]float64, N*OC)
			for n := 0; n < N; n++ {
				for o := 0; o < OC; o++ {
					s := 0.0
					if withBias {
						s = float64(bias[o])
					}
					for i := 0; i < IC; i++ {
						s += float64(x[n*IC+i]) * float64(w[o*IC+i])
					}
					want[n*OC+o] = s
				}
			}
			closeTo(t, tag(b)+" matmul out", out, want, 1e-5, 1e-5)
			dx, dw := randn(r, N*IC, 1), randn(r, OC*IC, 1)
			dx0, dw0 := clone(dx), clone(dw)
			var db, db0 []float32
			if withBias {
				db = randn(r, OC, 1)
				db0 = clone(db)
			}
			b.MatmulBackward(f32(dx), f32(dw), f32(db), f32(R), f32(x), f32(w), N, IC, OC)
			for i := range dx {
				dx[i] -= dx0[i]
			}
			for i := range dw {
				dw[i] -= dw0[i]
			}
			for i := range db {
				db[i] -= db0[i]
			}
			gradCheck(t, tag(b)+" matmul dinp", x, dx, loss)
			gradCheck(t, tag(b)+" matmul dw", w, dw, loss)
			if withBias {
				gradCheck(t, tag(b)+" matmul dbias", bias, db, loss)
			}
			// dinp absent: dw still right.
			dw2 := make([]float32, OC*IC)
			b.MatmulBackward(f32(nil), f32(dw2), f32(nil), f32(R), f32(x), f32(w), N, IC, OC)
			want64 := make([]float64, len(dw))
			for i := range dw {
				want64[i] = float64(dw[i])
			}
			closeTo(t, tag(b)+" matmul dw (no dinp)", dw2, want64, 1e-5, 1e-5)
		}
	}
}

// Larger products: several row chunks and row blocks (bias gradient
// partials), and a wide OC < IC shape that splits dw by columns.
func TestMatmulLarge(t *testing.T) {
	for _, b := range testBackends(t) {
		for _, sh := range [][2]int{{40, 3}, {24, 33}} {
			r := rand.New(rand.NewPCG(7, 8))
			const N = 600
			IC, OC := sh[0], sh[1]
			x, w, bias, R := randn(r, N*IC, 1), randn(r, OC*IC, 1), randn(r, OC, 1), randn(r, N*OC, 1)
			out := make([]float32, N*OC)
			b.MatmulForward(f32(out), f32(x), f32(w), f32(bias), N, IC, OC)
			dx, dw, db := make([]float32, N*IC), make([]float32, OC*IC), make([]float32, OC)
			b.MatmulBackward(f32(dx), f32(dw), f32(db), f32(R), f32(x), f32(w), N, IC, OC)
			wout, wdx, wdw, wdb := make([]float64, N*OC), make([]float64, N*IC), make([]float64, OC*IC), make([]float64, OC)
			for n := 0; n < N; n++ {
				for o := 0; o < OC; o++ {
					s := float64(bias[o])
					for i := 0; i < IC; i++ {
						s += float64(x[n*IC+i]) * float64(w[o*IC+i])
						wdx[n*IC+i] += float64(R[n*OC+o]) * float64(w[o*IC+i])
						wdw[o*IC+i] += float64(R[n*OC+o]) * float64(x[n*IC+i])
					}
					wout[n*OC+o] = s
					wdb[o] += float64(R[n*OC+o])
				}
			}
			closeTo(t, tag(b)+" out", out, wout, 1e-4, 1e-5)
			closeTo(t, tag(b)+" dinp", dx, wdx, 1e-4, 1e-5)
			closeTo(t, tag(b)+" dw", dw, wdw, 1e-3, 1e-5)
			closeTo(t, tag(b)+" dbias", db, wdb, 1e-3, 1e-5)
		}
	}
}

func TestRotary(t *testing.T) {
	for _, b := range testBackends(t) {
		testRotary(t, b, 12, 3) // hd 4: scalar path
		testRotary(t, b, 64, 2) // hd 32: vector path
	}
}

func testRotary(t *testing.T, b *Backend, C, H int) {
	{
		r := rand.New(rand.NewPCG(9, 10))
		const B, T, pos0 = 2, 7, 5
		hd := C / H
		x := randn(r, B*T*3*C, 1)
		orig := clone(x)
		b.RotaryForward(f32(x), B, T, C, H, pos0)
		want := make([]float64, len(x))
		for bb := 0; bb < B; bb++ {
			for tt := 0; tt < T; tt++ {
				base := (bb*T + tt) * 3 * C
				for i := 0; i < 3*C; i++ {
					want[base+i] = float64(orig[base+i])
				}
				for part := 0; part < 2; part++ {
					for h := 0; h < H; h++ {
						o := base + part*C + h*hd
						for i := 0; i < hd/2; i++ {
							a := float64(tt+pos0) / math.Pow(10000, float64(2*i)/float64(hd))
							x1, x2 := float64(orig[o+i]), float64(orig[o+i+hd/2])
							want[o+i] = x1*math.Cos(a) - x2*math.Sin(a)
							want[o+i+hd/2] = x2*math.Cos(a) + x1*math.Sin(a)
						}
					}
				}
			}
		}
		closeTo(t, tag(b)+" rotary", x, want, 1e-5, 1e-5)
		// The backward of a rotation is its inverse.
		b.RotaryBackward(f32(x), B, T, C, H, pos0)
		o64 := make([]float64, len(orig))
		for i := range orig {
			o64[i] = float64(orig[i])
		}
		closeTo(t, tag(b)+" rotary inverse", x, o64, 1e-5, 1e-5)
		// and the gradient of sum(R * rot(x)).
		R := randn(r, len(x), 1)
		y := make([]float32, len(x))
		loss := func() float64 {
			copy(y, x)
			b.RotaryForward(f32(y), B, T, C, H, pos0)
			return dot64(y, R)
		}
		g := clone(R)
		b.RotaryBackward(f32(g), B, T, C, H, pos0)
		gradCheck(t, tag(b)+" rotary grad", x, g, loss)
	}
}

// attentionRef is plain float64 softmax attention.
func attentionRef(qkv []float32, mask []int32, B, T, C, H int, causal bool) (out, lse []float64) {
	hd := C / H
	out = make([]float64, B*T*C)
	lse = make([]float64, B*H*T)
	sc := 1 / math.Sqrt(float64(hd))
	for bb := 0; bb < B; bb++ {
		for h := 0; h < H; h++ {
			for i := 0; i < T; i++ {
				s := make([]float64, T)
				mx := math.Inf(-1)
				for j := 0; j < T; j++ {
					s[j] = math.Inf(-1)
					if (causal && j > i) || (mask != nil && mask[bb*T+j] == 0) {
						continue
					}
					var d float64
					for k := 0; k < hd; k++ {
						d += float64(qkv[(bb*T+i)*3*C+h*hd+k]) * float64(qkv[(bb*T+j)*3*C+C+h*hd+k])
					}
					s[j] = d * sc
					mx = math.Max(mx, s[j])
				}
				if math.IsInf(mx, -1) {
					lse[(bb*H+h)*T+i] = mx
					continue
				}
				var sum float64
				for j := range s {
					sum += math.Exp(s[j] - mx)
				}
				lse[(bb*H+h)*T+i] = mx + math.Log(sum)
				for j := range s {
					p := math.Exp(s[j]-mx) / sum
					for k := 0; k < hd; k++ {
						out[(bb*T+i)*C+h*hd+k] += p * float64(qkv[(bb*T+j)*3*C+2*C+h*hd+k])
					}
				}
			}
		}
	}
	return out, lse
}

func TestAttention(t *testing.T) {
	const B, T, C, H = 2, 7, 12, 3
	mask := []int32{
		1, 1, 1, 1, 1, 0, 0, // trailing padding
		0, 0, 1, 1, 0, 1, 1, // leading padding: causal queries 0,1 see no key
	}
	cases := []struct {
		name   string
		causal bool
		mask   []int32
	}{
		{"bidirectional", false, nil},
		{"causal", true, nil},
		{"bidirectional+pad", false, mask},
		{"causal+pad", true, mask},
	}
	for _, b := range testBackends(t) {
		for _, c := range cases {
			r := rand.New(rand.NewPCG(11, 12))
			qkv := randn(r, B*T*3*C, 1)
			R := randn(r, B*T*C, 1)
			out, lse := make([]float32, B*T*C), make([]float32, B*H*T)
			loss := func() float64 {
				b.AttentionForward(f32(out), f32(lse), f32(qkv), i32(c.mask), B, T, C, H, c.causal)
				return dot64(out, R)
			}
			loss()
			wo, wl := attentionRef(qkv, c.mask, B, T, C, H, c.causal)
			name := tag(b) + " " + c.name
			closeTo(t, name+" out", out, wo, 1e-5, 1e-4)
			closeTo(t, name+" lse", lse, wl, 1e-5, 1e-5)
			dqkv := randn(r, len(qkv), 1) // overwritten, not accumulated
			b.AttentionBackward(f32(dqkv), f32(R), f32(qkv), f32(out), f32(lse), i32(c.mask), B, T, C, H, c.causal)
			gradCheck(t, name+" dqkv", qkv, dqkv, loss)
		}
	}
}

func TestGelu(t *testing.T) {
	for _, b := range testBackends(t) {
		r := rand.New(rand.NewPCG(13, 14))
		const n = 75 // not a multiple of the vector width
		x := randn(r, n, 2)
		x[0], x[1], x[2] = 12, -12, 0
		out := make([]float32, n)
		b.GeluForward(f32(out), f32(x), n)
		want := make([]float64, n)
		for i, v := range x {
			xv := float64(v)
			want[i] = 0.5 * xv * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(xv+0.044715*xv*xv*xv)))
		}
		closeTo(t, tag(b)+" gelu", out, want, 1e-6, 1e-5)
		R := randn(r, n, 1)
		loss := func() float64 {
			b.GeluForward(f32(out), f32(x), n)
			return dot64(out, R)
		}
		d := randn(r, n, 1)
		b.GeluBackward(f32(d), f32(x), f32(R), n)
		gradCheck(t, tag(b)+" gelu grad", x, d, loss)
		// dinp may alias dout.
		alias := clone(R)
		b.GeluBackward(f32(alias), f32(x), f32(alias), n)
		for i := range alias {
			if alias[i] != d[i] {
				t.Fatalf("%s gelu aliased backward [%d] %v != %v", tag(b), i, alias[i], d[i])
			}
		}
	}
}

func TestCrossEntropy(t *testing.T) {
	for _, b := range testBackends(t) {
		r := rand.New(rand.NewPCG(15, 16))
		const N, V, ignore, banned = 9, 5, 4, 3
		targets := []int32{0, 1, 4, 2, 0, 1, 2, 4, 0} // 4 = ignore; never the banned 3
		weights := []float32{1, 0.5, 2, 0, 1.5, 1, 3, 1, 0.25}
		logits := randn(r, N*V, 2)
		losses := make([]float32, N)
		work := make([]float32, N*V)
		loss := func() float64 {
			copy(work, logits)
			b.CrossEntropy(f32(losses), f32(work), i32(targets), f32(weights), N, V, ignore, banned, false, 0)
			var s float64
			for _, v := range losses {
				s += float64(v)
			}
			return s
		}
		loss()
		want := make([]float64, N)
		for n := 0; n < N; n++ {
			if int(targets[n]) == ignore || weights[n] == 0 {
				continue
			}
			var sum float64
			for v := 0; v < V; v++ {
				if v != banned {
					sum += math.Exp(float64(logits[n*V+v]))
				}
			}
			want[n] = float64(weights[n]) * (math.Log(sum) - float64(logits[n*V+int(targets[n])]))
		}
		closeTo(t, tag(b)+" ce losses", losses, want, 1e-6, 1e-6)
		const gs = 0.7
		grad := clone(logits)
		l2 := make([]float32, N)
		b.CrossEntropy(f32(l2), f32(grad), i32(targets), f32(weights), N, V, ignore, banned, true, gs)
		for i := range l2 {
			if l2[i] != losses[i] {
				t.Errorf("%s ce backward loss[%d] %v != forward %v", tag(b), i, l2[i], losses[i])
			}
		}
		for n := 0; n < N; n++ {
			if grad[n*V+banned] != 0 {
				t.Errorf("%s ce: banned class has gradient %v", tag(b), grad[n*V+banned])
			}
		}
		scaled := make([]float32, len(grad))
		for i := range grad {
			scaled[i] = grad[i] / gs
		}
		gradCheck(t, tag(b)+" ce dlogits", logits, scaled, loss)

		// Without weights every row counts 1.
		copy(work, logits)
		b.CrossEntropy(f32(losses), f32(work), i32(targets), f32(nil), N, V, ignore, -1, false, 0)
		for n := 0; n < N; n++ {
			if int(targets[n]) == ignore {
				if losses[n] != 0 {
					t.Errorf("ignored row %d loss %v", n, losses[n])
				}
				continue
			}
			var sum float64
			for v := 0; v < V; v++ {
				sum += math.Exp(float64(logits[n*V+v]))
			}
			w := math.Log(sum) - float64(logits[n*V+int(targets[n])])
			if math.Abs(float64(losses[n])-w) > 1e-5 {
				t.Errorf("unweighted loss[%d] %v want %v", n, losses[n], w)
			}
		}
	}
}

func TestSoftmax(t *testing.T) {
	for _, b := range testBackends(t) {
		r := rand.New(rand.NewPCG(17, 18))
		const N, V, banned = 6, 12, 3
		logits := randn(r, N*V, 3)
		logits[5] = 100 // large logits must not overflow
		probs := make([]float32, N*V)
		for _, temp := range []float32{1, 0.7, 2.5} {
			for _, ban := range []int{-1, banned} {
				b.Softmax(f32(probs), f32(logits), N, V, ban, temp)
				want := make([]float64, N*V)
				for n := 0; n < N; n++ {
					mx := math.Inf(-1)
					for v := 0; v < V; v++ {
						if v != ban {
							mx = math.Max(mx, float64(logits[n*V+v]))
						}
					}
					var s float64
					for v := 0; v < V; v++ {
						if v != ban {
							s += math.Exp((float64(logits[n*V+v]) - mx) / float64(temp))
						}
					}
					for v := 0; v < V; v++ {
						if v != ban {
							want[n*V+v] = math.Exp((float64(logits[n*V+v])-mx)/float64(temp)) / s
						}
					}
				}
				closeTo(t, tag(b)+" softmax", probs, want, 1e-7, 1e-5)
			}
		}
		// temperature 0: one-hot on the best allowed class.
		b.Softmax(f32(probs), f32(logits), N, V, banned, 0)
		for n := 0; n < N; n++ {
			best := -1
			for v := 0; v < V; v++ {
				if v != banned && (best < 0 || logits[n*V+v] > logits[n*V+best]) {
					best = v
				}
			}
			for v := 0; v < V; v++ {
				want := float32(0)
				if v == best {
					want = 1
				}
				if probs[n*V+v] != want {
					t.Fatalf("greedy softmax row %d class %d = %v want %v", n, v, probs[n*V+v], want)
				}
			}
		}
	}
}

func TestMeanPoolGrad(t *testing.T) {
	for _, b := range testBackends(t) {
		r := rand.New(rand.NewPCG(19, 20))
		const B, T, C = 3, 7, 12
		mask := []int32{
			1, 1, 1, 0, 0, 1, 0,
			0, 0, 0, 0, 0, 0, 0, // no valid position: 0 out, 0 grad
			1, 1, 1, 1, 1, 1, 1,
		}
		for _, m := range [][]int32{mask, nil} {
			x := randn(r, B*T*C, 1)
			R := randn(r, B*C, 1)
			out := make([]float32, B*C)
			loss := func() float64 {
				b.MeanPoolForward(f32(out), f32(x), i32(m), B, T, C)
				return dot64(out, R)
			}
			loss()
			for bb := 0; bb < B; bb++ {
				for c := 0; c < C; c++ {
					var s float64
					cnt := 0
					for tt := 0; tt < T; tt++ {
						if m == nil || m[bb*T+tt] == 1 {
							s += float64(x[(bb*T+tt)*C+c])
							cnt++
						}
					}
					want := 0.0
					if cnt > 0 {
						want = s / float64(cnt)
					}
					if math.Abs(float64(out[bb*C+c])-want) > 1e-6 {
						t.Fatalf("meanpool out[%d,%d] %v want %v", bb, c, out[bb*C+c], want)
					}
				}
			}
			g0 := randn(r, B*T*C, 1)
			g := clone(g0)
			b.MeanPoolBackward(f32(g), f32(R), i32(m), B, T, C)
			for i := range g {
				g[i] -= g0[i]
			}
			gradCheck(t, tag(b)+" meanpool", x, g, loss)
		}
	}
}

func TestResidual(t *testing.T) {
	for _, b := range testBackends(t) {
		r := rand.New(rand.NewPCG(21, 22))
		const n = 37
		x, y := randn(r, n, 1), randn(r, n, 1)
		out := make([]float32, n)
		b.Add(f32(out), f32(x), f32(y), n)
		acc := clone(x)
		b.Accumulate(f32(acc), f32(y), n)
		sc := clone(x)
		b.Scale(f32(sc), n, -0.5)
		for i := range x {
			if out[i] != x[i]+y[i] || acc[i] != x[i]+y[i] || sc[i] != -0.5*x[i] {
				t.Fatalf("residual kernels wrong at %d", i)
			}
		}
		b.Zero(f32(out))
		for _, v := range out {
			if v != 0 {
				t.Fatal("Zero left a value")
			}
		}
	}
}

// AdamW against the update worked by hand for two steps.
func TestAdamWByHand(t *testing.T) {
	for _, b := range testBackends(t) {
		p := []float32{1, -2}
		m := []float32{0, 0}
		v := []float32{0, 0}
		const lr, b1, b2, eps, wd = 0.1, 0.9, 0.999, 1e-8, 0.01
		// step 1, g = 0.5: m = 0.05, v = 0.00025, mhat = 0.5, vhat = 0.25,
		// update = 0.5/(0.5+1e-8) + 0.01*1 ~= 1.01 -> p = 1 - 0.101 = 0.899.
		b.AdamW(f32(p), f32([]float32{0.5, 0}), f32(m), f32(v), 2, lr, b1, b2, eps, wd, 1)
		if math.Abs(float64(p[0])-0.899) > 1e-6 {
			t.Fatalf("step 1: p = %v, want 0.899", p[0])
		}
		// zero gradient: only decay moves p (m = v = 0 gives 0/(0+eps) = 0).
		if math.Abs(float64(p[1])-(-2+0.1*0.01*2)) > 1e-6 {
			t.Fatalf("step 1 decay only: p = %v, want %v", p[1], -2+0.1*0.01*2)
		}
		if math.Abs(float64(m[0])-0.05) > 1e-7 || math.Abs(float64(v[0])-0.00025) > 1e-8 {
			t.Fatalf("step 1 moments m %v v %v", m[0], v[0])
		}
		// step 2, g = -0.25: m = 0.045 - 0.025 = 0.02,
		// v = 0.999*0.00025 + 0.001*0.0625 = 0.00031225,
		// mhat = 0.02/0.19, vhat = 0.00031225/0.001999.
		b.AdamW(f32(p), f32([]float32{-0.25, 0}), f32(m), f32(v), 2, lr, b1, b2, eps, wd, 2)
		mhat := 0.02 / 0.19
		vhat := 0.00031225 / 0.001999
		want := 0.899 - 0.1*(mhat/(math.Sqrt(vhat)+1e-8)+0.01*0.899)
		if math.Abs(float64(p[0])-want) > 2e-6 {
			t.Fatalf("step 2: p = %v, want %v", p[0], want)
		}
	}
}

func TestSumSquaresEMA(t *testing.T) {
	for _, b := range testBackends(t) {
		r := rand.New(rand.NewPCG(23, 24))
		x := randn(r, 100003, 1)
		var want float64
		for _, v := range x {
			want += float64(v) * float64(v)
		}
		if got := b.SumSquares(f32(x), len(x)); math.Abs(got-want) > 1e-9*want {
			t.Fatalf("SumSquares %v want %v", got, want)
		}
		x[77] = float32(math.NaN())
		if got := b.SumSquares(f32(x), len(x)); !math.IsNaN(got) {
			t.Fatalf("SumSquares hid a NaN: %v", got)
		}
		e := []float32{1, 2}
		b.EMA(f32(e), f32([]float32{3, -2}), 2, 0.75)
		if e[0] != 0.75*1+0.25*3 || e[1] != 0.75*2-0.25*2 {
			t.Fatalf("EMA %v", e)
		}
	}
}

// The same inputs and thread count give bit-identical results, whichever
// goroutine happens to take which chunk.
func TestDeterministic(t *testing.T) {
	b := newBackend(2, blasAuto)
	b.attnBq, b.attnBk = 5, 4
	r := rand.New(rand.NewPCG(25, 26))
	const B, T, C, H, N = 2, 19, 16, 2, 700
	qkv := randn(r, B*T*3*C, 1)
	R := randn(r, B*T*C, 1)
	x := randn(r, N*C, 1)
	w3 := randn(r, 3*C*C, 1)
	dy := randn(r, N*3*C, 1)
	w := randn(r, C, 1)
	run := func() map[string][]float32 {
		got := map[string][]float32{}
		// matmul backward (chunked bias-gradient sum) and SumSquares
		dx, dw, db := make([]float32, N*C), make([]float32, 3*C*C), make([]float32, 3*C)
		b.MatmulBackward(f32(dx), f32(dw), f32(db), f32(dy), f32(x), f32(w3), N, C, 3*C)
		got["matmul"] = append(append(dx, dw...), db...)
		got["sumsquares"] = []float32{float32(b.SumSquares(f32(dy), len(dy)))}
		out, lse, d := make([]float32, B*T*C), make([]float32, B*H*T), make([]float32, len(qkv))
		b.AttentionForward(f32(out), f32(lse), f32(qkv), i32(nil), B, T, C, H, true)
		b.AttentionBackward(f32(d), f32(R), f32(qkv), f32(out), f32(lse), i32(nil), B, T, C, H, true)
		got["attention"] = append(append(out, lse...), d...)
		lw, lb := make([]float32, C), make([]float32, C)
		mean, rstd := make([]float32, B*T), make([]float32, B*T)
		ln := make([]float32, B*T*C)
		b.LayerNormForward(f32(ln), f32(mean), f32(rstd), f32(R), f32(w), f32(w), B*T, C)
		b.LayerNormBackward(f32(nil), f32(lw), f32(lb), f32(R), f32(R), f32(w), f32(mean), f32(rstd), B*T, C)
		got["layernorm"] = append(append(ln, lw...), lb...)
		return got
	}
	first := run()
	for k := 0; k < 4; k++ {
		for name, v := range run() {
			for i := range v {
				if v[i] != first[name][i] {
					t.Fatalf("%s not deterministic at %d: %v vs %v", name, i, v[i], first[name][i])
				}
			}
		}
	}
}

func TestExpAccuracy(t *testing.T) {
	var worst float64
	xs := make([]float32, 0, 20001)
	for i := 0; i <= 20000; i++ {
		xs = append(xs, -86+float32(i)*(86+80)/20000) // the sum must stay finite in float32
	}
	for _, x := range xs {
		want := math.Exp(float64(x))
		got := float64(expf(x))
		worst = math.Max(worst, math.Abs(got-want)/want)
	}
	if worst > 3e-7 {
		t.Fatalf("expf worst relative error %g", worst)
	}
	v := clone(xs)
	s := expSubSum(v, 1)
	var ws float64
	for i, x := range xs {
		want := math.Exp(float64(x - 1)) // the float32 subtraction rounds first
		if math.Abs(float64(v[i])-want) > 3e-7*want {
			t.Fatalf("expSubSum(%v) = %v want %v", x, v[i], want)
		}
		ws += want
	}
	if math.Abs(float64(s)-ws) > 1e-5*ws {
		t.Fatalf("expSubSum sum %v want %v", s, ws)
	}
	edge := []float32{float32(math.Inf(-1)), -200, -87.5, 0, float32(math.NaN()), float32(math.Inf(-1)), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	expSubSum(edge, 0)
	if edge[0] != 0 || edge[1] != 0 || edge[2] > 1.2e-38 || edge[3] != 1 || !math.IsNaN(float64(edge[4])) || edge[5] != 0 {
		t.Fatalf("exp edge cases: %v", edge[:6])
	}
	if expf(float32(math.NaN())) == expf(float32(math.NaN())) || expf(100) != float32(math.Inf(1)) || expf(float32(math.Inf(-1))) != 0 {
		t.Fatal("scalar expf edge cases")
	}
}
