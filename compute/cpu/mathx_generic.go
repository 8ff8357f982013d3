//go:build !(goexperiment.simd && amd64)

package cpu

// Scalar builds (no GOEXPERIMENT=simd, or not amd64).

func simdLevel() string { return "none" }

// expSubSum sets x[i] = exp(x[i]-m) and returns the sum.
func expSubSum(x []float32, m float32) float32 { return expSubSumScalar(x, m) }

// maxf is the largest element (-Inf for none; NaNs are skipped).
func maxf(x []float32) float32 { return maxScalar(x) }

// dotf is sum a[i]*b[i] over len(a).
func dotf(a, b []float32) float32 { return dotScalar(a, b) }

// geluFwd: out = gelu(in).
func geluFwd(out, in []float32) {
	out = out[:len(in)]
	for i, x := range in {
		out[i] = geluScalar(x)
	}
}

// geluBwd: dinp = dout * gelu'(in); dinp may alias dout.
func geluBwd(dinp, in, dout []float32) {
	dinp, dout = dinp[:len(in)], dout[:len(in)]
	for i, x := range in {
		dinp[i] = dout[i] * geluGradScalar(x)
	}
}

// dsRow: dp = p * (dp - d) (the softmax backward of one attention row).
func dsRow(dp, p []float32, d float32) {
	p = p[:len(dp)]
	for i, v := range dp {
		dp[i] = p[i] * (v - d)
	}
}

// scal: x *= s.
func scal(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
}

// acc: dst += src.
func acc(dst, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] += v
	}
}

// level mirrors the SIMD build's dispatch variable so tests can iterate
// over levels in both builds; here only 0 (scalar) exists.
var level = 0

func lnRowFwd(dst, x, w, b []float32) (mean, rstd float32) { return lnRowFwdScalar(dst, x, w, b) }

func lnRowBwd(di, dw, db, dout, x, w []float32, mean, rstd float32) {
	lnRowBwdScalar(di, dw, db, dout, x, w, mean, rstd)
}

func rotateHalf(v, c, s []float32, sign float32) { rotateHalfScalar(v, c, s, sign) }
