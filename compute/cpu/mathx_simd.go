//go:build goexperiment.simd && amd64

package cpu

import "simd/archsimd"

// Vector versions of the hot elementwise math (exp for softmax rows, GELU),
// chosen at run time: AVX-512 (16 lanes), AVX2+FMA (8 lanes), else scalar.
// The polynomial is the same as expf; lanes below the normal range give
// exactly 0 and NaN lanes stay NaN, as in the scalar code.

var level = func() int {
	switch {
	case archsimd.X86.AVX512():
		return 2
	case archsimd.X86.AVX2() && archsimd.X86.FMA():
		return 1
	}
	return 0
}()

func simdLevel() string {
	switch level {
	case 2:
		return "avx512"
	case 1:
		return "avx2"
	}
	return "none"
}

// ------------------------------------------------------------ AVX-512

func exp16(x archsimd.Float32x16) archsimd.Float32x16 {
	xc := x.Max(archsimd.BroadcastFloat32x16(expLo)).Min(archsimd.BroadcastFloat32x16(88.72283))
	n := xc.Mul(archsimd.BroadcastFloat32x16(log2e)).RoundToEvenScaled(0)
	r := n.MulAdd(archsimd.BroadcastFloat32x16(-expC1), xc)
	r = n.MulAdd(archsimd.BroadcastFloat32x16(-expC2), r)
	p := archsimd.BroadcastFloat32x16(expP0)
	p = p.MulAdd(r, archsimd.BroadcastFloat32x16(expP1))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x16(expP2))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x16(expP3))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x16(expP4))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x16(expP5))
	p = p.MulAdd(r.Mul(r), r.Add(archsimd.BroadcastFloat32x16(1)))
	res := p.Scale(n).Masked(x.GreaterEqual(archsimd.BroadcastFloat32x16(expLo)))
	return res.Merge(x, x.Equal(x))
}

func hsum16(v archsimd.Float32x16) float32 {
	a := v.GetLo().Add(v.GetHi())
	return hsum8(a)
}

func hsum8(a archsimd.Float32x8) float32 {
	q := a.GetLo().Add(a.GetHi())
	q = q.AddPairs(q)
	q = q.AddPairs(q)
	return q.GetElem(0)
}

func hmax8(a archsimd.Float32x8) float32 {
	var buf [8]float32
	a.Store(&buf)
	m := buf[0]
	for _, v := range buf[1:] {
		if v > m {
			m = v
		}
	}
	return m
}

func expSubSum16(x []float32, m float32) float32 {
	mv := archsimd.BroadcastFloat32x16(m)
	acc := archsimd.BroadcastFloat32x16(0)
	i := 0
	for ; i+16 <= len(x); i += 16 {
		e := exp16(archsimd.LoadFloat32x16Slice(x[i:]).Sub(mv))
		e.StoreSlice(x[i:])
		acc = acc.Add(e)
	}
	s := hsum16(acc)
	if i < len(x) {
		s += expSubSumScalar(x[i:], m)
	}
	return s
}

func gelu16(x archsimd.Float32x16) (t, x2 archsimd.Float32x16) {
	x2 = x.Mul(x)
	// 2u = 2k x (1 + a x^2)
	u2 := x.Mul(x2.MulAdd(archsimd.BroadcastFloat32x16(2*geluK*geluA), archsimd.BroadcastFloat32x16(2*geluK)))
	one := archsimd.BroadcastFloat32x16(1)
	e := exp16(u2)
	t = one.Sub(archsimd.BroadcastFloat32x16(2).Div(e.Add(one)))
	return t, x2
}

// ------------------------------------------------------------ AVX2

func exp8(x archsimd.Float32x8) archsimd.Float32x8 {
	xc := x.Max(archsimd.BroadcastFloat32x8(expLo)).Min(archsimd.BroadcastFloat32x8(expHi))
	n := xc.Mul(archsimd.BroadcastFloat32x8(log2e)).RoundToEven()
	r := n.MulAdd(archsimd.BroadcastFloat32x8(-expC1), xc)
	r = n.MulAdd(archsimd.BroadcastFloat32x8(-expC2), r)
	p := archsimd.BroadcastFloat32x8(expP0)
	p = p.MulAdd(r, archsimd.BroadcastFloat32x8(expP1))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x8(expP2))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x8(expP3))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x8(expP4))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x8(expP5))
	p = p.MulAdd(r.Mul(r), r.Add(archsimd.BroadcastFloat32x8(1)))
	pow := n.ConvertToInt32().Add(archsimd.BroadcastInt32x8(127)).ShiftAllLeft(23).AsFloat32x8()
	res := p.Mul(pow).Masked(x.GreaterEqual(archsimd.BroadcastFloat32x8(expLo)))
	return res.Merge(x, x.Equal(x))
}

func expSubSum8(x []float32, m float32) float32 {
	mv := archsimd.BroadcastFloat32x8(m)
	acc := archsimd.BroadcastFloat32x8(0)
	i := 0
	for ; i+8 <= len(x); i += 8 {
		e := exp8(archsimd.LoadFloat32x8Slice(x[i:]).Sub(mv))
		e.StoreSlice(x[i:])
		acc = acc.Add(e)
	}
	s := hsum8(acc)
	if i < len(x) {
		s += expSubSumScalar(x[i:], m)
	}
	return s
}

func gelu8(x archsimd.Float32x8) (t, x2 archsimd.Float32x8) {
	x2 = x.Mul(x)
	u2 := x.Mul(x2.MulAdd(archsimd.BroadcastFloat32x8(2*geluK*geluA), archsimd.BroadcastFloat32x8(2*geluK)))
	one := archsimd.BroadcastFloat32x8(1)
	e := exp8(u2)
	t = one.Sub(archsimd.BroadcastFloat32x8(2).Div(e.Add(one)))
	return t, x2
}

// ------------------------------------------------------------ dispatch

// expSubSum sets x[i] = exp(x[i]-m) and returns the sum.
func expSubSum(x []float32, m float32) float32 {
	switch level {
	case 2:
		return expSubSum16(x, m)
	case 1:
		return expSubSum8(x, m)
	}
	return expSubSumScalar(x, m)
}

// maxf is the largest element (-Inf for none).
func maxf(x []float32) float32 {
	if level == 0 || len(x) < 16 {
		return maxScalar(x)
	}
	acc := archsimd.LoadFloat32x8Slice(x)
	i := 8
	for ; i+8 <= len(x); i += 8 {
		acc = acc.Max(archsimd.LoadFloat32x8Slice(x[i:]))
	}
	m := hmax8(acc)
	for ; i < len(x); i++ {
		if x[i] > m {
			m = x[i]
		}
	}
	return m
}

// dotf is sum a[i]*b[i] over len(a).
func dotf(a, b []float32) float32 {
	if level == 0 || len(a) < 8 {
		return dotScalar(a, b)
	}
	b = b[:len(a)]
	acc := archsimd.BroadcastFloat32x8(0)
	i := 0
	for ; i+8 <= len(a); i += 8 {
		acc = archsimd.LoadFloat32x8Slice(a[i:]).MulAdd(archsimd.LoadFloat32x8Slice(b[i:]), acc)
	}
	s := hsum8(acc)
	for ; i < len(a); i++ {
		s += a[i] * b[i]
	}
	return s
}

// geluFwd: out = gelu(in).
func geluFwd(out, in []float32) {
	out = out[:len(in)]
	i := 0
	switch level {
	case 2:
		half := archsimd.BroadcastFloat32x16(0.5)
		one := archsimd.BroadcastFloat32x16(1)
		for ; i+16 <= len(in); i += 16 {
			x := archsimd.LoadFloat32x16Slice(in[i:])
			t, _ := gelu16(x)
			half.Mul(x).Mul(one.Add(t)).StoreSlice(out[i:])
		}
	case 1:
		half := archsimd.BroadcastFloat32x8(0.5)
		one := archsimd.BroadcastFloat32x8(1)
		for ; i+8 <= len(in); i += 8 {
			x := archsimd.LoadFloat32x8Slice(in[i:])
			t, _ := gelu8(x)
			half.Mul(x).Mul(one.Add(t)).StoreSlice(out[i:])
		}
	}
	for ; i < len(in); i++ {
		out[i] = geluScalar(in[i])
	}
}

// geluBwd: dinp = dout * gelu'(in); dinp may alias dout.
func geluBwd(dinp, in, dout []float32) {
	dinp, dout = dinp[:len(in)], dout[:len(in)]
	i := 0
	switch level {
	case 2:
		half := archsimd.BroadcastFloat32x16(0.5)
		one := archsimd.BroadcastFloat32x16(1)
		k := archsimd.BroadcastFloat32x16(geluK)
		a3 := archsimd.BroadcastFloat32x16(geluA3)
		for ; i+16 <= len(in); i += 16 {
			x := archsimd.LoadFloat32x16Slice(in[i:])
			t, x2 := gelu16(x)
			// 0.5(1+t) + 0.5 x (1-t^2) k (1 + 3a x^2)
			sech2 := one.Sub(t.Mul(t))
			inner := k.Mul(x2.MulAdd(a3, one))
			g := half.Mul(one.Add(t).Add(x.Mul(sech2).Mul(inner)))
			g.Mul(archsimd.LoadFloat32x16Slice(dout[i:])).StoreSlice(dinp[i:])
		}
	case 1:
		half := archsimd.BroadcastFloat32x8(0.5)
		one := archsimd.BroadcastFloat32x8(1)
		k := archsimd.BroadcastFloat32x8(geluK)
		a3 := archsimd.BroadcastFloat32x8(geluA3)
		for ; i+8 <= len(in); i += 8 {
			x := archsimd.LoadFloat32x8Slice(in[i:])
			t, x2 := gelu8(x)
			sech2 := one.Sub(t.Mul(t))
			inner := k.Mul(x2.MulAdd(a3, one))
			g := half.Mul(one.Add(t).Add(x.Mul(sech2).Mul(inner)))
			g.Mul(archsimd.LoadFloat32x8Slice(dout[i:])).StoreSlice(dinp[i:])
		}
	}
	for ; i < len(in); i++ {
		dinp[i] = dout[i] * geluGradScalar(in[i])
	}
}
