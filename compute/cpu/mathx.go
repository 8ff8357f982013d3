package cpu

import "math"

// Scalar math shared by both builds. expf is a Cephes-style float32 exp
// (range reduction by ln2 split in two, degree-6 polynomial, ~1 ulp): three
// to four times faster than float64 math.Exp and accurate to ~1e-7
// relative, which is all float32 kernels can use.

const (
	log2e  = 1.44269504088896341
	expC1  = 0.693359375    // ln2 high part, exact in float32
	expC2  = -2.12194440e-4 // ln2 - expC1
	expHi  = 88.3762626647949
	expLo  = -87.3365447505531 // below this exp underflows the normal range; return 0
	expP0  = 1.9875691500e-4
	expP1  = 1.3981999507e-3
	expP2  = 8.3334519073e-3
	expP3  = 4.1665795894e-2
	expP4  = 1.6666665459e-1
	expP5  = 5.0000001201e-1
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
	p := ((((expP0*r+expP1)*r+expP2)*r+expP3)*r+expP4)*r + expP5
	p = p*r*r + r + 1
	return p * math.Float32frombits(uint32(int32(n)+127)<<23)
}

// tanhf via exp; saturates cleanly to ±1.
func tanhf(u float32) float32 {
	return 1 - 2/(expf(2*u)+1)
}

func geluScalar(x float32) float32 {
	u := geluK * (x + geluA*x*x*x)
	return 0.5 * x * (1 + tanhf(u))
}

func geluGradScalar(x float32) float32 {
	u := geluK * (x + geluA*x*x*x)
	t := tanhf(u)
	return 0.5*(1+t) + 0.5*x*(1-t*t)*geluK*(1+geluA3*x*x)
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
