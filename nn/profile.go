package nn

import (
	"sort"
	"time"

	"github.com/seqdiff/seqdiff/compute"
)

// Profiler wraps a Backend and times every kernel call by class (after a
// Sync, so asynchronous device kernels are charged to the right class).
// It is for breakdowns only: the extra syncs slow a device backend down.
type Profiler struct {
	compute.Backend
	Times  map[string]time.Duration
	Counts map[string]int
	// Flops counts the floating-point operations of the matmul and
	// attention classes (multiply-add = 2), for achieved GFLOP/s.
	Flops map[string]float64
}

// NewProfiler wraps be.
func NewProfiler(be compute.Backend) *Profiler {
	return &Profiler{Backend: be, Times: map[string]time.Duration{}, Counts: map[string]int{}, Flops: map[string]float64{}}
}

// Reset clears the accumulated times.
func (p *Profiler) Reset() {
	clear(p.Times)
	clear(p.Counts)
	clear(p.Flops)
}

func (p *Profiler) time(class string, f func()) {
	t0 := time.Now()
	f()
	p.Backend.Sync()
	p.Times[class] += time.Since(t0)
	p.Counts[class]++
}

// ProfileRow is one kernel class of a breakdown.
type ProfileRow struct {
	Class string
	Time  time.Duration
	Calls int
	Flops float64 // 0 for classes not counted
}

// Rows lists the classes by decreasing time.
func (p *Profiler) Rows() []ProfileRow {
	var out []ProfileRow
	for k, v := range p.Times {
		out = append(out, ProfileRow{k, v, p.Counts[k], p.Flops[k]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time > out[j].Time })
	return out
}

func (p *Profiler) Zero(t compute.F32) { p.time("zero/copy", func() { p.Backend.Zero(t) }) }
func (p *Profiler) Copy(dst, src compute.F32) {
	p.time("zero/copy", func() { p.Backend.Copy(dst, src) })
}
func (p *Profiler) EmbeddingForward(out compute.F32, tok compute.I32, wte compute.F32, N, C int) {
	p.time("embedding_fwd", func() { p.Backend.EmbeddingForward(out, tok, wte, N, C) })
}
func (p *Profiler) EmbeddingBackward(dwte, dout compute.F32, tok compute.I32, N, C int) {
	p.time("embedding_bwd", func() { p.Backend.EmbeddingBackward(dwte, dout, tok, N, C) })
}
func (p *Profiler) LayerNormForward(out, mean, rstd, inp, w, b compute.F32, N, C int) {
	p.time("layernorm_fwd", func() { p.Backend.LayerNormForward(out, mean, rstd, inp, w, b, N, C) })
}
func (p *Profiler) LayerNormBackward(dinp, dw, db, dout, inp, w, mean, rstd compute.F32, N, C int) {
	p.time("layernorm_bwd", func() { p.Backend.LayerNormBackward(dinp, dw, db, dout, inp, w, mean, rstd, N, C) })
}
func (p *Profiler) MatmulForward(out, inp, w, bias compute.F32, N, IC, OC int) {
	p.time("matmul_fwd", func() { p.Backend.MatmulForward(out, inp, w, bias, N, IC, OC) })
	p.Flops["matmul_fwd"] += 2 * float64(N) * float64(IC) * float64(OC)
}
func (p *Profiler) MatmulBackward(dinp, dw, dbias, dout, inp, w compute.F32, N, IC, OC int) {
	p.time("matmul_bwd", func() { p.Backend.MatmulBackward(dinp, dw, dbias, dout, inp, w, N, IC, OC) })
	f := 2 * float64(N) * float64(IC) * float64(OC)
	if dinp.N > 0 {
		p.Flops["matmul_bwd"] += f
	}
	if dw.N > 0 {
		p.Flops["matmul_bwd"] += f
	}
}
func (p *Profiler) RotaryForward(qkv compute.F32, B, T, C, H, pos0 int) {
	p.time("rotary_fwd", func() { p.Backend.RotaryForward(qkv, B, T, C, H, pos0) })
}
func (p *Profiler) RotaryBackward(dqkv compute.F32, B, T, C, H, pos0 int) {
	p.time("rotary_bwd", func() { p.Backend.RotaryBackward(dqkv, B, T, C, H, pos0) })
}
func (p *Profiler) AttentionForward(out, lse, qkv compute.F32, keyMask compute.I32, B, T, C, H int, causal bool) {
	p.time("attention_fwd", func() { p.Backend.AttentionForward(out, lse, qkv, keyMask, B, T, C, H, causal) })
	// QK^T and PV over the (query, key) pairs attended.
	p.Flops["attention_fwd"] += 4 * attnPairs(B, T, H, causal) * float64(C/H)
}
func (p *Profiler) AttentionBackward(dqkv, dout, qkv, out, lse compute.F32, keyMask compute.I32, B, T, C, H int, causal bool) {
	p.time("attention_bwd", func() { p.Backend.AttentionBackward(dqkv, dout, qkv, out, lse, keyMask, B, T, C, H, causal) })
	// recomputed QK^T, dO V^T, P^T dO, dS K, dS^T Q
	p.Flops["attention_bwd"] += 10 * attnPairs(B, T, H, causal) * float64(C/H)
}
func (p *Profiler) AttentionDecode(out, qkv, kCache, vCache compute.F32, B, Tk, Tmax, C, H int) {
	p.time("attention_decode", func() { p.Backend.AttentionDecode(out, qkv, kCache, vCache, B, Tk, Tmax, C, H) })
	p.Flops["attention_decode"] += 4 * float64(B*Tk) * float64(C)
}
func (p *Profiler) GeluForward(out, inp compute.F32, n int) {
	p.time("gelu_fwd", func() { p.Backend.GeluForward(out, inp, n) })
}
func (p *Profiler) GeluBackward(dinp, inp, dout compute.F32, n int) {
	p.time("gelu_bwd", func() { p.Backend.GeluBackward(dinp, inp, dout, n) })
}
func (p *Profiler) SiluForward(out, inp compute.F32, n int) {
	p.time("adaln", func() { p.Backend.SiluForward(out, inp, n) })
}
func (p *Profiler) SiluBackward(dinp, inp, dout compute.F32, n int) {
	p.time("adaln", func() { p.Backend.SiluBackward(dinp, inp, dout, n) })
}
func (p *Profiler) ModulateForward(out, inp, shift, scale compute.F32, B, T, C, S int) {
	p.time("adaln", func() { p.Backend.ModulateForward(out, inp, shift, scale, B, T, C, S) })
}
func (p *Profiler) ModulateBackward(dinp, dshift, dscale, dout, inp, scale compute.F32, B, T, C, S int) {
	p.time("adaln", func() { p.Backend.ModulateBackward(dinp, dshift, dscale, dout, inp, scale, B, T, C, S) })
}
func (p *Profiler) GateForward(out, res, y, gate compute.F32, B, T, C, S int) {
	p.time("adaln", func() { p.Backend.GateForward(out, res, y, gate, B, T, C, S) })
}
func (p *Profiler) GateBackward(dy, dgate, dout, y, gate compute.F32, B, T, C, S int) {
	p.time("adaln", func() { p.Backend.GateBackward(dy, dgate, dout, y, gate, B, T, C, S) })
}
func (p *Profiler) Add(out, a, b compute.F32, n int) {
	p.time("residual", func() { p.Backend.Add(out, a, b, n) })
}
func (p *Profiler) Accumulate(dst, src compute.F32, n int) {
	p.time("residual", func() { p.Backend.Accumulate(dst, src, n) })
}
func (p *Profiler) Scale(x compute.F32, n int, s float32) {
	p.time("optimizer", func() { p.Backend.Scale(x, n, s) })
}
func (p *Profiler) CrossEntropy(losses, logits compute.F32, targets compute.I32, weights compute.F32, N, V, ignore, banned int, backward bool, gradScale float32) {
	p.time("crossentropy", func() {
		p.Backend.CrossEntropy(losses, logits, targets, weights, N, V, ignore, banned, backward, gradScale)
	})
}
func (p *Profiler) AdamW(params, grads, m, v compute.F32, n int, lr, beta1, beta2, eps, wd float32, t int) {
	p.time("optimizer", func() { p.Backend.AdamW(params, grads, m, v, n, lr, beta1, beta2, eps, wd, t) })
}
func (p *Profiler) SumSquares(x compute.F32, n int) float64 {
	var s float64
	p.time("optimizer", func() { s = p.Backend.SumSquares(x, n) })
	return s
}
func (p *Profiler) EMA(ema, params compute.F32, n int, decay float32) {
	p.time("optimizer", func() { p.Backend.EMA(ema, params, n, decay) })
}

// attnPairs is the number of (query, key) score entries over all heads.
func attnPairs(B, T, H int, causal bool) float64 {
	pairs := float64(T) * float64(T)
	if causal {
		pairs = float64(T) * float64(T+1) / 2
	}
	return float64(B*H) * pairs
}
