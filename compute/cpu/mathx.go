package cpu

import "math"

// Scalar math shared by both builds. expf is a Cephes-style float32 exp:
// range reduction x = n ln2 + r with ln2 split in two, |r| <= ln2/2, and
// exp(r) = 1 + r + r^2 Q(r) with Q a degree-4 minimax fit of relative
// error (3e-9 in exact arithmetic; 8e-8 evaluated in float32, the same as
// Cephes' one degree higher, which matters for the vector code's register
// budget). Several times faster than float64 math.Exp.

const (
	log2e  = 1.44269504088896341
	expC1  = 0.693359375    // ln2 high part, exact in float32
	expC2  = -2.12194440e-4 // ln2 - expC1
	expHi  = 88.3762626647949
	expLo  = -87.3365447505531 // below this exp underflows the normal range; return 0
	expQ0  = 4.9999993999e-01
	expQ1  = 1.6666520741e-01
	expQ2  = 4.1668255833e-02
	expQ3  = 8.3687051212e-03
	expQ4  = 1.3821957578e-03
	geluK  = 0.7978845608028654 // sqrt(2/pi)
	geluA  = 0.044715
	geluA3 = 3 * 0.044715
)

// expf returns e**x in float32 precision. NaN propagates; x below
// ~-87.34 gives 0 (denormals are not produced), above ~88.38 +Inf.
func expf(x float32) float32 {
	if x != x {
		return x
	}
	if x > expHi {
		return float32(math.Inf(1))
	}
	if x < expLo {
		return 0
	}
	n := float32(math.Floor(float64(x*log2e + 0.5)))
	r := x - n*expC1 - n*expC2
	p := (((expQ4*r+expQ3)*r+expQ2)*r+expQ1)*r + expQ0
	p = (p*r+1)*r + 1
	return p * math.Float32frombits(uint32(int32(n)+127)<<23)
}

// GELU (tanh form) as x * s with s = sigmoid(2u) = 1/(1+exp(-2u)),
// u = sqrt(2/pi) (x + 0.044715 x^3): equal to 0.5 x (1 + tanh u) with one
// exp, saturating cleanly at both ends (exp -> Inf gives s = 0, -> 0 gives 1).
func geluSigmoid(x float32) float32 {
	return 1 / (1 + expf(-2*geluK*(x+geluA*x*x*x)))
}

func geluScalar(x float32) float32 { return x * geluSigmoid(x) }

// geluGradScalar: d/dx x s(x) = s + x s (1-s) 2k (1 + 3a x^2).
func geluGradScalar(x float32) float32 {
	s := geluSigmoid(x)
	return s + x*s*(1-s)*2*geluK*(1+geluA3*x*x)
}

func expSubSumScalar(x []float32, m float32) float32 {
	var s float32
	for i, v := range x {
		e := expf(v - m)
		x[i] = e
		s += e
	}
	return s
}

func maxScalar(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	return m
}

func dotScalar(a, b []float32) float32 {
	var s float32
	b = b[:len(a)]
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

// lnRowFwdScalar normalises one row: dst = (x-mean)*rstd*w + b, biased
// variance, eps 1e-5 (two passes for accuracy).
func lnRowFwdScalar(dst, x, w, b []float32) (mean, rstd float32) {
	var s float32
	for _, v := range x {
		s += v
	}
	m := s / float32(len(x))
	var ss float32
	for _, v := range x {
		d := v - m
		ss += d * d
	}
	r := float32(1 / math.Sqrt(float64(ss/float32(len(x)))+lnEps))
	dst, w, b = dst[:len(x)], w[:len(x)], b[:len(x)]
	for i, v := range x {
		dst[i] = (v-m)*r*w[i] + b[i]
	}
	return m, r
}

// lnRowBwdScalar: with norm = (x-mean)*rstd and dn = w*dout,
// dw += dout*norm, db += dout, and (di absent when nil)
// di += (dn - mean(dn) - norm*mean(dn*norm)) * rstd.
func lnRowBwdScalar(di, dw, db, dout, x, w []float32, mean, rstd float32) {
	C := len(x)
	dout, w, dw, db = dout[:C], w[:C], dw[:C], db[:C]
	var dmean, dnormMean float32
	for i, v := range x {
		norm := (v - mean) * rstd
		dn := w[i] * dout[i]
		dmean += dn
		dnormMean += dn * norm
		dw[i] += dout[i] * norm
		db[i] += dout[i]
	}
	if di == nil {
		return
	}
	dmean /= float32(C)
	dnormMean /= float32(C)
	di = di[:C]
	for i, v := range x {
		norm := (v - mean) * rstd
		di[i] += (w[i]*dout[i] - dmean - norm*dnormMean) * rstd
	}
}

// rotateHalfScalar: for i < hd/2, (x1, x2) = (v[i], v[i+hd/2]) ->
// (x1 c - x2 s', x2 c + x1 s') with s' = sign*s[i].
func rotateHalfScalar(v, c, s []float32, sign float32) {
	half := len(v) / 2
	c, s = c[:half], s[:half]
	for i := 0; i < half; i++ {
		x1, x2 := v[i], v[i+half]
		si := sign * s[i]
		v[i] = x1*c[i] - x2*si
		v[i+half] = x2*c[i] + x1*si
	}
}
