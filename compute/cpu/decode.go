package cpu

import (
	"math"

	"github.com/seqdiff/seqdiff/compute"
)

// AttentionDecode: out (B,C) <- q third of qkv (B,3C), kCache, vCache
// (B,Tmax,C) holding Tk positions. One work item per (row, head): scores
// s_j = q.k_j / sqrt(hd) over the Tk cached keys, softmax, out = sum_j p_j v_j,
// accumulated in float64 so that it matches the tiled AttentionForward to
// float32 rounding. A decode step is memory bound (each cached value is read
// once), so plain loops serve as well as sgemm here.
func (b *Backend) AttentionDecode(out, qkv, kCache, vCache compute.F32, B, Tk, Tmax, C, H int) {
	hd := C / H
	scale := 1 / math.Sqrt(float64(hd))
	b.parallelItems(B*H, func(_, item int) {
		h, bb := item%H, item/H
		q := qkv.Host[bb*3*C+h*hd : bb*3*C+(h+1)*hd]
		base := bb*Tmax*C + h*hd
		mx := math.Inf(-1)
		sc := make([]float64, Tk)
		for j := 0; j < Tk; j++ {
			k := kCache.Host[base+j*C : base+j*C+hd]
			sc[j] = dotf64(q, k) * scale
			mx = math.Max(mx, sc[j])
		}
		var sum float64
		for j := range sc {
			sc[j] = math.Exp(sc[j] - mx)
			sum += sc[j]
		}
		acc := make([]float64, hd)
		for j := 0; j < Tk; j++ {
			p := sc[j] / sum
			v := vCache.Host[base+j*C : base+j*C+hd]
			for d, x := range v {
				acc[d] += p * float64(x)
			}
		}
		dst := out.Host[bb*C+h*hd : bb*C+(h+1)*hd]
		for d := range dst {
			dst[d] = float32(acc[d])
		}
	})
}

// dotf64 is the float64 dot product of two float32 vectors.
func dotf64(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}
