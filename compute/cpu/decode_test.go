package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAttentionDecode checks the KV-cache kernel against the causal
// AttentionForward: the output of query t over cached keys 0..t equals row
// t of the full causal attention, for every t and every backend.
func TestAttentionDecode(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	B, T, C, H, Tmax := 2, 13, 16, 4, 16
	qkv := randn(r, B*T*3*C, 1)
	for _, be := range testBackends(t) {
		full := make([]float32, B*T*C)
		be.AttentionForward(f32(full), f32(make([]float32, B*H*T)), f32(qkv), i32(nil), B, T, C, H, true)
		kc, vc := make([]float32, B*Tmax*C), make([]float32, B*Tmax*C)
		for b := 0; b < B; b++ {
			for i := 0; i < T; i++ {
				copy(kc[(b*Tmax+i)*C:], qkv[(b*T+i)*3*C+C:(b*T+i)*3*C+2*C])
				copy(vc[(b*Tmax+i)*C:], qkv[(b*T+i)*3*C+2*C:(b*T+i)*3*C+3*C])
			}
		}
		worst := 0.0
		for i := 0; i < T; i++ {
			q := make([]float32, B*3*C)
			for b := 0; b < B; b++ {
				copy(q[b*3*C:], qkv[(b*T+i)*3*C:(b*T+i+1)*3*C])
			}
			out := make([]float32, B*C)
			be.AttentionDecode(f32(out), f32(q), f32(kc), f32(vc), B, i+1, Tmax, C, H)
			for b := 0; b < B; b++ {
				for c := 0; c < C; c++ {
					want := float64(full[(b*T+i)*C+c])
					worst = math.Max(worst, math.Abs(float64(out[b*C+c])-want)/(1e-3+math.Abs(want)))
				}
			}
		}
		if worst > 1e-4 { // the tiled forward rounds exp and sums in float32
			t.Errorf("%s: decode vs causal forward worst relative error %g", tag(be), worst)
		}
	}
}
