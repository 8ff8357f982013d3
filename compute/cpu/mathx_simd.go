//go:build goexperiment.simd && amd64

package cpu

import (
	"math"
	"simd/archsimd"
)

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

// The loops below spell the exp polynomial out inline with its constants
// hoisted: the Go compiler neither inlines a vector exp function (too big) nor hoists
// broadcasts out of loops, and a call per vector spills everything to the
// stack (measured 3x slower).

// expSubSum16 is written for softmax rows, where x - m <= 0: no upper
// clamp, and ln2 in one constant (r = x - n ln2 by one FMA; the error,
// under 3e-7 relative only for results below e^-87, is far below what a
// probability carries). That keeps the loop within the 16 vector
// registers the Go compiler allocates, with no spills.
func expSubSum16(x []float32, m float32) float32 {
	mv := archsimd.BroadcastFloat32x16(m)
	acc := archsimd.BroadcastFloat32x16(0)
	l2e := archsimd.BroadcastFloat32x16(log2e)
	ln2 := archsimd.BroadcastFloat32x16(-0.693147180559945)
	q0 := archsimd.BroadcastFloat32x16(expQ0)
	q1 := archsimd.BroadcastFloat32x16(expQ1)
	q2 := archsimd.BroadcastFloat32x16(expQ2)
	q3 := archsimd.BroadcastFloat32x16(expQ3)
	q4 := archsimd.BroadcastFloat32x16(expQ4)
	one := archsimd.BroadcastFloat32x16(1)
	i := 0
	for ; i+16 <= len(x); i += 16 {
		v := archsimd.LoadFloat32x16Slice(x[i:]).Sub(mv)
		// No clamp: for -Inf or hugely negative v the scaled result is 0
		// or NaN (Inf-Inf in r); NaN lanes are zeroed, then lanes whose
		// input was NaN are put back.
		isNum := v.Equal(v)
		n := v.Mul(l2e).RoundToEvenScaled(0)
		r := n.MulAdd(ln2, v)
		p := q4.MulAdd(r, q3)
		p = p.MulAdd(r, q2)
		p = p.MulAdd(r, q1)
		p = p.MulAdd(r, q0)
		p = p.MulAdd(r, one).MulAdd(r, one)
		e := p.Scale(n)
		e = e.Masked(e.Equal(e)).Merge(v, isNum)
		e.StoreSlice(x[i:])
		acc = acc.Add(e)
	}
	s := hsum16(acc)
	if i < len(x) {
		s += expSubSumScalar(x[i:], m)
	}
	return s
}

// ------------------------------------------------------------ AVX2

func exp8(x archsimd.Float32x8) archsimd.Float32x8 {
	xc := x.Max(archsimd.BroadcastFloat32x8(expLo)).Min(archsimd.BroadcastFloat32x8(expHi))
	n := xc.Mul(archsimd.BroadcastFloat32x8(log2e)).RoundToEven()
	r := n.MulAdd(archsimd.BroadcastFloat32x8(-expC1), xc)
	r = n.MulAdd(archsimd.BroadcastFloat32x8(-expC2), r)
	one := archsimd.BroadcastFloat32x8(1)
	p := archsimd.BroadcastFloat32x8(expQ4)
	p = p.MulAdd(r, archsimd.BroadcastFloat32x8(expQ3))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x8(expQ2))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x8(expQ1))
	p = p.MulAdd(r, archsimd.BroadcastFloat32x8(expQ0))
	p = p.MulAdd(r, one).MulAdd(r, one)
	pow := n.ConvertToInt32().Add(archsimd.BroadcastInt32x8(127)).ShiftAllLeft(23).AsFloat32x8()
	res := p.Mul(pow).Masked(x.GreaterEqual(archsimd.BroadcastFloat32x8(expLo)))
	return res.Merge(x, x.Equal(x))
}

func expSubSum8(x []float32, m float32) float32 {
	mv := archsimd.BroadcastFloat32x8(m)
	acc := archsimd.BroadcastFloat32x8(0)
	lo := archsimd.BroadcastFloat32x8(expLo)
	hi := archsimd.BroadcastFloat32x8(expHi)
	l2e := archsimd.BroadcastFloat32x8(log2e)
	c1 := archsimd.BroadcastFloat32x8(-expC1)
	c2 := archsimd.BroadcastFloat32x8(-expC2)
	q0 := archsimd.BroadcastFloat32x8(expQ0)
	q1 := archsimd.BroadcastFloat32x8(expQ1)
	q2 := archsimd.BroadcastFloat32x8(expQ2)
	q3 := archsimd.BroadcastFloat32x8(expQ3)
	q4 := archsimd.BroadcastFloat32x8(expQ4)
	one := archsimd.BroadcastFloat32x8(1)
	b127 := archsimd.BroadcastInt32x8(127)
	i := 0
	for ; i+8 <= len(x); i += 8 {
		v := archsimd.LoadFloat32x8Slice(x[i:]).Sub(mv)
		xc := v.Max(lo).Min(hi)
		n := xc.Mul(l2e).RoundToEven()
		r := n.MulAdd(c1, xc)
		r = n.MulAdd(c2, r)
		p := q4.MulAdd(r, q3)
		p = p.MulAdd(r, q2)
		p = p.MulAdd(r, q1)
		p = p.MulAdd(r, q0)
		p = p.MulAdd(r, one).MulAdd(r, one)
		pow := n.ConvertToInt32().Add(b127).ShiftAllLeft(23).AsFloat32x8()
		e := p.Mul(pow).Masked(v.GreaterEqual(lo)).Merge(v, v.Equal(v))
		e.StoreSlice(x[i:])
		acc = acc.Add(e)
	}
	s := hsum8(acc)
	if i < len(x) {
		s += expSubSumScalar(x[i:], m)
	}
	return s
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
	i := 0
	var m float32
	if level == 2 && len(x) >= 32 {
		a0 := archsimd.LoadFloat32x16Slice(x)
		a1 := archsimd.LoadFloat32x16Slice(x[16:])
		for i = 32; i+32 <= len(x); i += 32 {
			a0 = a0.Max(archsimd.LoadFloat32x16Slice(x[i:]))
			a1 = a1.Max(archsimd.LoadFloat32x16Slice(x[i+16:]))
		}
		a0 = a0.Max(a1)
		m = hmax8(a0.GetLo().Max(a0.GetHi()))
	} else {
		acc := archsimd.LoadFloat32x8Slice(x)
		for i = 8; i+8 <= len(x); i += 8 {
			acc = acc.Max(archsimd.LoadFloat32x8Slice(x[i:]))
		}
		m = hmax8(acc)
	}
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

// dsRow: dp = p * (dp - d) (the softmax backward of one attention row).
func dsRow(dp, p []float32, d float32) {
	p = p[:len(dp)]
	i := 0
	if level == 2 {
		dv := archsimd.BroadcastFloat32x16(d)
		for ; i+16 <= len(dp); i += 16 {
			v := archsimd.LoadFloat32x16Slice(dp[i:]).Sub(dv)
			v.Mul(archsimd.LoadFloat32x16Slice(p[i:])).StoreSlice(dp[i:])
		}
	} else if level == 1 {
		dv := archsimd.BroadcastFloat32x8(d)
		for ; i+8 <= len(dp); i += 8 {
			v := archsimd.LoadFloat32x8Slice(dp[i:]).Sub(dv)
			v.Mul(archsimd.LoadFloat32x8Slice(p[i:])).StoreSlice(dp[i:])
		}
	}
	for ; i < len(dp); i++ {
		dp[i] = p[i] * (dp[i] - d)
	}
}

// scal: x *= s.
func scal(x []float32, s float32) {
	i := 0
	if level >= 1 {
		sv := archsimd.BroadcastFloat32x8(s)
		for ; i+8 <= len(x); i += 8 {
			archsimd.LoadFloat32x8Slice(x[i:]).Mul(sv).StoreSlice(x[i:])
		}
	}
	for ; i < len(x); i++ {
		x[i] *= s
	}
}

// acc: dst += src.
func acc(dst, src []float32) {
	dst = dst[:len(src)]
	i := 0
	if level >= 1 {
		for ; i+8 <= len(src); i += 8 {
			archsimd.LoadFloat32x8Slice(dst[i:]).Add(archsimd.LoadFloat32x8Slice(src[i:])).StoreSlice(dst[i:])
		}
	}
	for ; i < len(src); i++ {
		dst[i] += src[i]
	}
}

// GELU (tanh form) as x * s with s = sigmoid(2u) = 1 - 1/(1+exp(2u)),
// u = sqrt(2/pi) (x + 0.044715 x^3): the same function as
// 0.5 x (1 + tanh u), with one exp and one division. 2u is clamped below
// at -88 so exp stays finite and nonzero there; above, exp may reach +Inf,
// which gives s = 1 exactly. d/dx = s + x s (1-s) d(2u)/dx with
// d(2u)/dx = 2k (1 + 3a x^2). The loops keep only x live across the exp
// (recomputing x^2 after it) so everything stays in the 16 vector
// registers the compiler uses.

// geluFwd: out = gelu(in).
func geluFwd(out, in []float32) {
	out = out[:len(in)]
	i := 0
	if level == 2 {
		av := archsimd.BroadcastFloat32x16(2 * geluK)
		bv := archsimd.BroadcastFloat32x16(2 * geluK * geluA)
		lo := archsimd.BroadcastFloat32x16(-88)
		l2e := archsimd.BroadcastFloat32x16(log2e)
		ln2 := archsimd.BroadcastFloat32x16(-0.693147180559945)
		q0 := archsimd.BroadcastFloat32x16(expQ0)
		q1 := archsimd.BroadcastFloat32x16(expQ1)
		q2 := archsimd.BroadcastFloat32x16(expQ2)
		q3 := archsimd.BroadcastFloat32x16(expQ3)
		q4 := archsimd.BroadcastFloat32x16(expQ4)
		one := archsimd.BroadcastFloat32x16(1)
		for ; i+16 <= len(in); i += 16 {
			x := archsimd.LoadFloat32x16Slice(in[i:])
			w := x.Mul(x.Mul(x).MulAdd(bv, av)).Max(lo) // 2u
			n := w.Mul(l2e).RoundToEvenScaled(0)
			r := n.MulAdd(ln2, w)
			p := q4.MulAdd(r, q3)
			p = p.MulAdd(r, q2)
			p = p.MulAdd(r, q1)
			p = p.MulAdd(r, q0)
			p = p.MulAdd(r, one).MulAdd(r, one)
			e := p.Scale(n)
			x.Sub(x.Div(e.Add(one))).StoreSlice(out[i:])
		}
	} else if level == 1 {
		for ; i+8 <= len(in); i += 8 {
			x := archsimd.LoadFloat32x8Slice(in[i:])
			s := sigmoid2u8(x)
			x.Mul(s).StoreSlice(out[i:])
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
	if level == 2 {
		av := archsimd.BroadcastFloat32x16(2 * geluK)
		bv := archsimd.BroadcastFloat32x16(2 * geluK * geluA)
		lo := archsimd.BroadcastFloat32x16(-88)
		l2e := archsimd.BroadcastFloat32x16(log2e)
		ln2 := archsimd.BroadcastFloat32x16(-0.693147180559945)
		q0 := archsimd.BroadcastFloat32x16(expQ0)
		q1 := archsimd.BroadcastFloat32x16(expQ1)
		q2 := archsimd.BroadcastFloat32x16(expQ2)
		q3 := archsimd.BroadcastFloat32x16(expQ3)
		q4 := archsimd.BroadcastFloat32x16(expQ4)
		one := archsimd.BroadcastFloat32x16(1)
		for ; i+16 <= len(in); i += 16 {
			x := archsimd.LoadFloat32x16Slice(in[i:])
			w := x.Mul(x.Mul(x).MulAdd(bv, av)).Max(lo) // 2u
			n := w.Mul(l2e).RoundToEvenScaled(0)
			r := n.MulAdd(ln2, w)
			p := q4.MulAdd(r, q3)
			p = p.MulAdd(r, q2)
			p = p.MulAdd(r, q1)
			p = p.MulAdd(r, q0)
			p = p.MulAdd(r, one).MulAdd(r, one)
			q := one.Div(p.Scale(n).Add(one)) // 1 - s
			s := one.Sub(q)
			// d(2u)/dx = a + 3b x^2
			du := x.Mul(x).MulAdd(bv.Add(bv).Add(bv), av)
			g := x.Mul(s).Mul(q).MulAdd(du, s)
			g.Mul(archsimd.LoadFloat32x16Slice(dout[i:])).StoreSlice(dinp[i:])
		}
	} else if level == 1 {
		k0 := archsimd.BroadcastFloat32x8(2 * geluK)
		k1 := archsimd.BroadcastFloat32x8(2 * geluK * geluA3)
		one := archsimd.BroadcastFloat32x8(1)
		for ; i+8 <= len(in); i += 8 {
			x := archsimd.LoadFloat32x8Slice(in[i:])
			s := sigmoid2u8(x)
			du := x.Mul(x).MulAdd(k1, k0)
			g := x.Mul(s).Mul(one.Sub(s)).MulAdd(du, s)
			g.Mul(archsimd.LoadFloat32x8Slice(dout[i:])).StoreSlice(dinp[i:])
		}
	}
	for ; i < len(in); i++ {
		dinp[i] = dout[i] * geluGradScalar(in[i])
	}
}

// sigmoid2u8 is s = 1/(1+exp(-2u)) for 8 lanes (AVX2).
func sigmoid2u8(x archsimd.Float32x8) archsimd.Float32x8 {
	v := x.Mul(x).MulAdd(archsimd.BroadcastFloat32x8(-2*geluK*geluA), archsimd.BroadcastFloat32x8(-2*geluK)).Mul(x)
	v = v.Min(archsimd.BroadcastFloat32x8(88)).Max(archsimd.BroadcastFloat32x8(-88))
	one := archsimd.BroadcastFloat32x8(1)
	return one.Div(exp8(v).Add(one))
}

// lnRowFwd: LayerNorm of one row (see lnRowFwdScalar), 8 lanes at a time.
func lnRowFwd(dst, x, w, b []float32) (mean, rstd float32) {
	C := len(x)
	if level == 0 || C%8 != 0 {
		return lnRowFwdScalar(dst, x, w, b)
	}
	dst, w, b = dst[:C], w[:C], b[:C]
	s := archsimd.BroadcastFloat32x8(0)
	for i := 0; i < C; i += 8 {
		s = s.Add(archsimd.LoadFloat32x8Slice(x[i:]))
	}
	m := hsum8(s) / float32(C)
	mv := archsimd.BroadcastFloat32x8(m)
	ss := archsimd.BroadcastFloat32x8(0)
	for i := 0; i < C; i += 8 {
		d := archsimd.LoadFloat32x8Slice(x[i:]).Sub(mv)
		ss = d.MulAdd(d, ss)
	}
	r := float32(1 / math.Sqrt(float64(hsum8(ss)/float32(C))+lnEps))
	rv := archsimd.BroadcastFloat32x8(r)
	for i := 0; i < C; i += 8 {
		d := archsimd.LoadFloat32x8Slice(x[i:]).Sub(mv).Mul(rv)
		d.MulAdd(archsimd.LoadFloat32x8Slice(w[i:]), archsimd.LoadFloat32x8Slice(b[i:])).StoreSlice(dst[i:])
	}
	return m, r
}

// lnRowBwd: LayerNorm backward of one row (see lnRowBwdScalar).
func lnRowBwd(di, dw, db, dout, x, w []float32, mean, rstd float32) {
	C := len(x)
	if level == 0 || C%8 != 0 {
		lnRowBwdScalar(di, dw, db, dout, x, w, mean, rstd)
		return
	}
	dout, w, dw, db = dout[:C], w[:C], dw[:C], db[:C]
	mv := archsimd.BroadcastFloat32x8(mean)
	rv := archsimd.BroadcastFloat32x8(rstd)
	dm := archsimd.BroadcastFloat32x8(0)
	dnm := archsimd.BroadcastFloat32x8(0)
	for i := 0; i < C; i += 8 {
		norm := archsimd.LoadFloat32x8Slice(x[i:]).Sub(mv).Mul(rv)
		g := archsimd.LoadFloat32x8Slice(dout[i:])
		dn := archsimd.LoadFloat32x8Slice(w[i:]).Mul(g)
		dm = dm.Add(dn)
		dnm = dn.MulAdd(norm, dnm)
		g.MulAdd(norm, archsimd.LoadFloat32x8Slice(dw[i:])).StoreSlice(dw[i:])
		g.Add(archsimd.LoadFloat32x8Slice(db[i:])).StoreSlice(db[i:])
	}
	if di == nil {
		return
	}
	di = di[:C]
	dmv := archsimd.BroadcastFloat32x8(hsum8(dm) / float32(C))
	dnmv := archsimd.BroadcastFloat32x8(hsum8(dnm) / float32(C))
	for i := 0; i < C; i += 8 {
		norm := archsimd.LoadFloat32x8Slice(x[i:]).Sub(mv).Mul(rv)
		dn := archsimd.LoadFloat32x8Slice(w[i:]).Mul(archsimd.LoadFloat32x8Slice(dout[i:]))
		t := dn.Sub(dmv).Sub(norm.Mul(dnmv)).Mul(rv)
		t.Add(archsimd.LoadFloat32x8Slice(di[i:])).StoreSlice(di[i:])
	}
}

// rotateHalf: rotary rotation of one head (see rotateHalfScalar).
func rotateHalf(v, c, s []float32, sign float32) {
	half := len(v) / 2
	if level == 0 || half%8 != 0 {
		rotateHalfScalar(v, c, s, sign)
		return
	}
	c, s = c[:half], s[:half]
	sg := archsimd.BroadcastFloat32x8(sign)
	for i := 0; i < half; i += 8 {
		x1 := archsimd.LoadFloat32x8Slice(v[i:])
		x2 := archsimd.LoadFloat32x8Slice(v[i+half:])
		cv := archsimd.LoadFloat32x8Slice(c[i:])
		sv := archsimd.LoadFloat32x8Slice(s[i:]).Mul(sg)
		x1.Mul(cv).Sub(x2.Mul(sv)).StoreSlice(v[i:])
		x2.Mul(cv).Add(x1.Mul(sv)).StoreSlice(v[i+half:])
	}
}
