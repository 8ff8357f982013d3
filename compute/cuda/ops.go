//go:build linux && (amd64 || arm64)

package cuda

import (
	"fmt"
	"math"
	"runtime"

	"github.com/seqdiff/seqdiff/compute"
)

// The kernels of compute.Backend: each queues work on the device and
// returns; shapes are documented on the interface and in kernels/*.cu.

// ---------------------------------------------------------------- embedding

// EmbeddingForward: out (N,C) = wte (V,C) [tok (N)]. An id outside [0,V)
// makes Sync return an error wrapping ErrDeviceFault.
func (b *Backend) EmbeddingForward(out compute.F32, tok compute.I32, wte compute.F32, N, C int) {
	b.enter()
	defer runtime.UnlockOSThread()
	b.args.reset().f32p(out).i32p(tok).f32p(wte).i32(N).i32(C).i32(wte.N / C).ptr(b.fault)
	b.launch1("embedding_forward", N*C)
}

// EmbeddingBackward: dwte (V,C) += scatter of dout (N,C) by tok (N).
// Float atomics: the summation order of repeated ids varies from run to run.
func (b *Backend) EmbeddingBackward(dwte, dout compute.F32, tok compute.I32, N, C int) {
	if dwte.N == 0 || N == 0 {
		return
	}
	b.enter()
	defer runtime.UnlockOSThread()
	V := dwte.N / C
	const rows = 256
	if V*32*4 <= 48*1024 {
		b.args.reset().f32p(dwte).f32p(dout).i32p(tok).i32(N).i32(C).i32(V).i32(rows)
		b.launch("embedding_backward_smem", dim3{ceilDiv(N, rows), ceilDiv(C, 32), 1}, dim3{256, 1, 1}, V*32*4)
		return
	}
	b.args.reset().f32p(dwte).f32p(dout).i32p(tok).i32(N).i32(C).i32(V)
	b.launch1("embedding_backward_atomic", N*C)
}

// ---------------------------------------------------------------- layernorm

// LayerNormForward: out (N,C), mean (N), rstd (N) <- inp (N,C), w (C), b (C).
func (b *Backend) LayerNormForward(out, mean, rstd, inp, w, bias compute.F32, N, C int) {
	b.enter()
	defer runtime.UnlockOSThread()
	b.args.reset().f32p(out).f32p(mean).f32p(rstd).f32p(inp).f32p(w).f32p(bias).i32(N).i32(C)
	b.launch("layernorm_forward", dim3{ceilDiv(N, 8), 1, 1}, dim3{256, 1, 1}, 0)
}

// LayerNormBackward: dinp (N,C) +=, dw (C) +=, db (C) += <- dout, inp, w, mean, rstd.
func (b *Backend) LayerNormBackward(dinp, dw, db, dout, inp, w, mean, rstd compute.F32, N, C int) {
	b.enter()
	defer runtime.UnlockOSThread()
	b.args.reset().f32p(dinp).f32p(dw).f32p(db).f32p(dout).f32p(inp).f32p(w).f32p(mean).f32p(rstd).i32(N).i32(C)
	b.launch("layernorm_backward", dim3{gridFor(N, 8, 4*b.sms), 1, 1}, dim3{256, 1, 1}, 2*C*4)
}

// ---------------------------------------------------------------- matmul

// sgemm is column-major cublasSgemm: C (m,n) = alpha op(A) op(B) + beta C.
func (b *Backend) sgemm(tA, tB bool, m, n, k int, alpha float32, A uintptr, lda int, B uintptr, ldb int, beta float32, C uintptr, ldc int) {
	if b.err != nil || m == 0 || n == 0 {
		return
	}
	opA, opB := uintptr(cublasOpN), uintptr(cublasOpN)
	if tA {
		opA = cublasOpT
	}
	if tB {
		opB = cublasOpT
	}
	b.args.alpha, b.args.beta = alpha, beta
	r := call(b.bl.cublasSgemm, b.blas, opA, opB, uintptr(m), uintptr(n), uintptr(k),
		uintptr(unsafePointer(&b.args.alpha)), A, uintptr(lda), B, uintptr(ldb),
		uintptr(unsafePointer(&b.args.beta)), C, uintptr(ldc))
	runtime.KeepAlive(b.args)
	b.checkBlas(fmt.Sprintf("cublasSgemm %dx%dx%d", m, n, k), r)
}

// MatmulForward: out (N,OC) = inp (N,IC) . w (OC,IC)^T + bias (OC, optional).
// Row-major out is column-major out^T (OC,N) = w^T(col-major (IC,OC))^T . inp^T.
func (b *Backend) MatmulForward(out, inp, w, bias compute.F32, N, IC, OC int) {
	b.enter()
	defer runtime.UnlockOSThread()
	b.sgemm(true, false, OC, N, IC, 1, w.Dev, IC, inp.Dev, IC, 0, out.Dev, OC)
	if bias.N > 0 {
		b.args.reset().f32p(out).f32p(bias).i64(N).i32(OC)
		b.launch1("bias_forward", N*OC)
	}
}

// MatmulBackward: dinp (N,IC) += dout (N,OC) . w (OC,IC) (optional),
// dw (OC,IC) += dout^T . inp, dbias (OC) += sum_n dout (optional).
func (b *Backend) MatmulBackward(dinp, dw, dbias, dout, inp, w compute.F32, N, IC, OC int) {
	b.enter()
	defer runtime.UnlockOSThread()
	if dinp.N > 0 { // dinp^T (IC,N) += w (col-major (IC,OC)) . dout^T (col-major (OC,N))
		b.sgemm(false, false, IC, N, OC, 1, w.Dev, IC, dout.Dev, OC, 1, dinp.Dev, IC)
	}
	if dw.N > 0 { // dw^T (IC,OC) += inp^T (col-major (IC,N)) . dout (N,OC)
		b.sgemm(false, true, IC, OC, N, 1, inp.Dev, IC, dout.Dev, OC, 1, dw.Dev, IC)
	}
	if dbias.N > 0 {
		b.args.reset().f32p(dbias).f32p(dout).i32(N).i32(OC)
		b.launch("bias_backward", dim3{ceilDiv(OC, 32), 1, 1}, dim3{32, 32, 1}, 0)
	}
}

// ---------------------------------------------------------------- rotary

// ensureRope uploads cos/sin tables (positions, hd/2) covering npos
// positions, built on the host exactly as the CPU backend builds them
// (float32 inverse frequencies and angles). The table grows by doubling so
// that decoding one position at a time rebuilds it rarely.
func (b *Backend) ensureRope(hd, npos int) {
	if b.ropeHD == hd && b.ropeNPos >= npos {
		return
	}
	n := max(npos, 2*b.ropeNPos, 2048)
	if b.ropeHD != hd {
		n = max(npos, 2048)
	}
	cs, sn := ropeTables(hd, n)
	if b.ropeCos.N > 0 {
		b.freeDev(b.ropeCos.Dev)
		b.freeDev(b.ropeSin.Dev)
	}
	b.ropeCos = compute.F32{Dev: b.rawAlloc(4 * len(cs)), N: len(cs)}
	b.ropeSin = compute.F32{Dev: b.rawAlloc(4 * len(sn)), N: len(sn)}
	if b.err != nil {
		return
	}
	b.check("cuMemcpyHtoD", call(b.drv.cuMemcpyHtoD, b.ropeCos.Dev, uintptr(unsafePointer(&cs[0])), uintptr(4*len(cs))))
	b.check("cuMemcpyHtoD", call(b.drv.cuMemcpyHtoD, b.ropeSin.Dev, uintptr(unsafePointer(&sn[0])), uintptr(4*len(sn))))
	runtime.KeepAlive(cs)
	runtime.KeepAlive(sn)
	b.ropeHD, b.ropeNPos = hd, n
}

// ropeTables: cos, sin (npos, hd/2) of angle float32(t) * inv_i with
// inv_i = 1/10000^(2i/hd), as compute/cpu and PyTorch's reference compute them.
func ropeTables(hd, npos int) (cs, sn []float32) {
	half := hd / 2
	inv := make([]float32, half)
	for i := range inv {
		e := float32(2*i) / float32(hd)
		inv[i] = 1 / float32(math.Pow(10000, float64(e)))
	}
	cs = make([]float32, npos*half)
	sn = make([]float32, npos*half)
	for t := 0; t < npos; t++ {
		for i := 0; i < half; i++ {
			a := float64(float32(t) * inv[i])
			cs[t*half+i] = float32(math.Cos(a))
			sn[t*half+i] = float32(math.Sin(a))
		}
	}
	return cs, sn
}

// RotaryForward rotates the q and k thirds of qkv (B,T,3C) in place.
func (b *Backend) RotaryForward(qkv compute.F32, B, T, C, H, pos0 int) {
	b.rotary(qkv, B, T, C, H, pos0, 1)
}

// RotaryBackward applies the inverse rotation to the q and k thirds of dqkv (B,T,3C).
func (b *Backend) RotaryBackward(dqkv compute.F32, B, T, C, H, pos0 int) {
	b.rotary(dqkv, B, T, C, H, pos0, -1)
}

func (b *Backend) rotary(qkv compute.F32, B, T, C, H, pos0 int, sign float32) {
	b.enter()
	defer runtime.UnlockOSThread()
	hd := C / H
	b.ensureRope(hd, pos0+T)
	b.args.reset().f32p(qkv).f32p(b.ropeCos).f32p(b.ropeSin).i32(B).i32(T).i32(C).i32(H).i32(pos0).f32(sign)
	b.launch1("rotary", B*T*2*H*(hd/2))
}

// ---------------------------------------------------------------- attention

func attnScale(hd int) float32 { return float32(1 / math.Sqrt(float64(hd))) }

// AttentionForward: out (B,T,C), lse (B,H,T) <- qkv (B,T,3C), keyMask (B,T) optional.
func (b *Backend) AttentionForward(out, lse, qkv compute.F32, keyMask compute.I32, B, T, C, H int, causal bool) {
	b.enter()
	defer runtime.UnlockOSThread()
	hd := C / H
	HD, err := attnHD(hd)
	if err != nil {
		b.fail(err)
		return
	}
	b.args.reset().f32p(out).f32p(lse).f32p(qkv).i32p(keyMask).i32(B).i32(T).i32(C).i32(H).i32(boolInt(causal)).f32(attnScale(hd))
	b.launch(fmt.Sprintf("attn_forward_%d", HD), attnGrid(B, T, H), dim3{attnBQ, 1, 1}, attnSmem(HD))
}

// AttentionBackward: dqkv (B,T,3C) OVERWRITTEN <- dout (B,T,C), qkv, out, lse.
func (b *Backend) AttentionBackward(dqkv, dout, qkv, out, lse compute.F32, keyMask compute.I32, B, T, C, H int, causal bool) {
	b.enter()
	defer runtime.UnlockOSThread()
	hd := C / H
	HD, err := attnHD(hd)
	if err != nil {
		b.fail(err)
		return
	}
	if b.attnD.N < B*H*T {
		if b.attnD.N > 0 {
			b.freeDev(b.attnD.Dev)
		}
		b.attnD = compute.F32{Dev: b.rawAlloc(4 * B * H * T), N: B * H * T}
	}
	D := b.attnD
	b.args.reset().f32p(D).f32p(dout).f32p(out).i32(B).i32(T).i32(C).i32(H)
	b.launch1("attn_bwd_pre", B*T*H)
	sc := attnScale(hd)
	grid, block, smem := attnGrid(B, T, H), dim3{attnBQ, 1, 1}, attnSmem(HD)
	b.args.reset().f32p(dqkv).f32p(dout).f32p(qkv).f32p(lse).f32p(D).i32p(keyMask).i32(B).i32(T).i32(C).i32(H).i32(boolInt(causal)).f32(sc)
	b.launch(fmt.Sprintf("attn_bwd_dq_%d", HD), grid, block, smem)
	for _, wantDK := range []int{1, 0} {
		b.args.reset().f32p(dqkv).f32p(dout).f32p(qkv).f32p(lse).f32p(D).i32p(keyMask).i32(B).i32(T).i32(C).i32(H).i32(boolInt(causal)).f32(sc).i32(wantDK)
		b.launch(fmt.Sprintf("attn_bwd_dkv_%d", HD), grid, block, smem)
	}
}

// AttentionDecode: out (B,C) <- q third of qkv (B,3C), kCache, vCache (B,Tmax,C) holding Tk positions.
func (b *Backend) AttentionDecode(out, qkv, kCache, vCache compute.F32, B, Tk, Tmax, C, H int) {
	b.enter()
	defer runtime.UnlockOSThread()
	hd := C / H
	b.args.reset().f32p(out).f32p(qkv).f32p(kCache).f32p(vCache).i32(B).i32(Tk).i32(Tmax).i32(C).i32(H).f64(1 / math.Sqrt(float64(hd)))
	b.launch("attn_decode", dim3{B * H, 1, 1}, dim3{128, 1, 1}, 8*Tk)
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}

// ---------------------------------------------------------------- elementwise

// GeluForward: out (n) = gelu(inp (n)), tanh approximation.
func (b *Backend) GeluForward(out, inp compute.F32, n int) {
	b.enter()
	defer runtime.UnlockOSThread()
	b.args.reset().f32p(out).f32p(inp).i64(n)
	b.launch1("gelu_forward", n)
}

// GeluBackward: dinp (n) OVERWRITTEN = dout * gelu'(inp); dinp may alias dout.
func (b *Backend) GeluBackward(dinp, inp, dout compute.F32, n int) {
	b.enter()
	defer runtime.UnlockOSThread()
	b.args.reset().f32p(dinp).f32p(inp).f32p(dout).i64(n)
	b.launch1("gelu_backward", n)
}

// Add: out (n) = a + c.
func (b *Backend) Add(out, a, c compute.F32, n int) {
	b.enter()
	defer runtime.UnlockOSThread()
	b.args.reset().f32p(out).f32p(a).f32p(c).i64(n)
	b.launch1("add", n)
}

// Accumulate: dst (n) += src (n).
func (b *Backend) Accumulate(dst, src compute.F32, n int) {
	b.enter()
	defer runtime.UnlockOSThread()
	b.args.reset().f32p(dst).f32p(src).i64(n)
	b.launch1("accumulate", n)
}

// Scale: x (n) *= s.
func (b *Backend) Scale(x compute.F32, n int, s float32) {
	b.enter()
	defer runtime.UnlockOSThread()
	b.args.reset().f32p(x).i64(n).f32(s)
	b.launch1("scale", n)
}

// ---------------------------------------------------------------- adaLN

// SiluForward: out (n) = inp * sigmoid(inp).
func (b *Backend) SiluForward(out, inp compute.F32, n int) {
	b.enter()
	defer runtime.UnlockOSThread()
	b.args.reset().f32p(out).f32p(inp).i64(n)
	b.launch1("silu_forward", n)
}

// SiluBackward: dinp (n) OVERWRITTEN = dout * silu'(inp); dinp may alias dout.
func (b *Backend) SiluBackward(dinp, inp, dout compute.F32, n int) {
	b.enter()
	defer runtime.UnlockOSThread()
	b.args.reset().f32p(dinp).f32p(inp).f32p(dout).i64(n)
	b.launch1("silu_backward", n)
}

// ModulateForward: out (B,T,C) = inp * (1 + scale[b]) + shift[b], rows of shift and scale at b*S.
func (b *Backend) ModulateForward(out, inp, shift, scale compute.F32, B, T, C, S int) {
	b.enter()
	defer runtime.UnlockOSThread()
	b.args.reset().f32p(out).f32p(inp).f32p(shift).f32p(scale).i32(B).i32(T).i32(C).i32(S)
	b.launch1("modulate_forward", B*T*C)
}

// ModulateBackward: dinp (B,T,C) OVERWRITTEN = dout * (1 + scale[b]);
// dshift[b] += sum_t dout; dscale[b] += sum_t dout * inp.
func (b *Backend) ModulateBackward(dinp, dshift, dscale, dout, inp, scale compute.F32, B, T, C, S int) {
	b.enter()
	defer runtime.UnlockOSThread()
	b.args.reset().f32p(dinp).f32p(dshift).f32p(dscale).f32p(dout).f32p(inp).f32p(scale).i32(B).i32(T).i32(C).i32(S)
	b.launch("modulate_backward", dim3{ceilDiv(C, 32), B, 1}, dim3{32, 32, 1}, 0)
}

// GateForward: out (B,T,C) = res + gate[b] * y.
func (b *Backend) GateForward(out, res, y, gate compute.F32, B, T, C, S int) {
	b.enter()
	defer runtime.UnlockOSThread()
	b.args.reset().f32p(out).f32p(res).f32p(y).f32p(gate).i32(B).i32(T).i32(C).i32(S)
	b.launch1("gate_forward", B*T*C)
}

// GateBackward: dy (B,T,C) OVERWRITTEN = dout * gate[b]; dgate[b] += sum_t dout * y.
func (b *Backend) GateBackward(dy, dgate, dout, y, gate compute.F32, B, T, C, S int) {
	b.enter()
	defer runtime.UnlockOSThread()
	b.args.reset().f32p(dy).f32p(dgate).f32p(dout).f32p(y).f32p(gate).i32(B).i32(T).i32(C).i32(S)
	b.launch("gate_backward", dim3{ceilDiv(C, 32), B, 1}, dim3{32, 32, 1}, 0)
}

// ---------------------------------------------------------------- losses

// CrossEntropy: fused softmax cross-entropy over logits (N,V); see compute.Backend.
func (b *Backend) CrossEntropy(losses, logits compute.F32, targets compute.I32, weights compute.F32, N, V, ignore, banned int, backward bool, gradScale float32) {
	b.enter()
	defer runtime.UnlockOSThread()
	b.args.reset().f32p(losses).f32p(logits).i32p(targets).f32p(weights).i32(N).i32(V).i32(ignore).i32(banned).i32(boolInt(backward)).f32(gradScale)
	b.launch("cross_entropy", dim3{ceilDiv(N, 8), 1, 1}, dim3{256, 1, 1}, 0)
}

// Softmax: probs (N,V) = softmax(logits / temperature), banned's probability 0.
func (b *Backend) Softmax(probs, logits compute.F32, N, V, banned int, temperature float32) {
	b.enter()
	defer runtime.UnlockOSThread()
	b.args.reset().f32p(probs).f32p(logits).i32(N).i32(V).i32(banned).f32(temperature)
	b.launch("softmax", dim3{ceilDiv(N, 8), 1, 1}, dim3{256, 1, 1}, 0)
}

// ---------------------------------------------------------------- pooling

// MeanPoolForward: out (B,C) = mean over valid t of inp (B,T,C).
func (b *Backend) MeanPoolForward(out, inp compute.F32, mask compute.I32, B, T, C int) {
	b.enter()
	defer runtime.UnlockOSThread()
	b.args.reset().f32p(out).f32p(inp).i32p(mask).i32(B).i32(T).i32(C)
	b.launch1("meanpool_forward", B*C)
}

// MeanPoolBackward: dinp (B,T,C) += dout (B,C) / count at valid positions.
func (b *Backend) MeanPoolBackward(dinp, dout compute.F32, mask compute.I32, B, T, C int) {
	b.enter()
	defer runtime.UnlockOSThread()
	b.args.reset().f32p(dinp).f32p(dout).i32p(mask).i32(B).i32(T).i32(C)
	b.launch1("meanpool_backward", B*C)
}

// ---------------------------------------------------------------- optimiser

// AdamW: see compute.Backend. The bias corrections are computed on the
// host in float64 and rounded to float32, as the CPU backend does.
func (b *Backend) AdamW(params, grads, m, v compute.F32, n int, lr, beta1, beta2, eps, wd float32, t int) {
	b.enter()
	defer runtime.UnlockOSThread()
	bc1 := float32(1 - math.Pow(float64(beta1), float64(t)))
	bc2 := float32(1 - math.Pow(float64(beta2), float64(t)))
	b.args.reset().f32p(params).f32p(grads).f32p(m).f32p(v).i64(n).f32(lr).f32(beta1).f32(beta2).f32(eps).f32(wd).f32(bc1).f32(bc2)
	b.launch1("adamw", n)
}

// SumSquares: sum of x (n)^2 in float64, reduced on the device in a fixed
// order; it waits for the result. NaN when an error is recorded.
func (b *Backend) SumSquares(x compute.F32, n int) float64 {
	if n == 0 {
		return 0
	}
	b.enter()
	defer runtime.UnlockOSThread()
	nb := gridFor(n, 256, sumsqMaxBlocks)
	b.args.reset().ptr(b.partials).f32p(x).i64(n)
	b.launch("sumsq_partial", dim3{nb, 1, 1}, dim3{256, 1, 1}, 0)
	out := b.partials + 8*sumsqMaxBlocks
	b.args.reset().ptr(out).ptr(b.partials).i32(nb)
	b.launch("sumsq_final", dim3{1, 1, 1}, dim3{256, 1, 1}, 0)
	var s float64
	if b.err == nil {
		b.check("cuMemcpyDtoH", call(b.drv.cuMemcpyDtoH, uintptr(unsafePointer(&s)), out, 8))
	}
	if b.err != nil {
		return math.NaN()
	}
	return s
}

// EMA: ema (n) = decay*ema + (1-decay)*params.
func (b *Backend) EMA(ema, params compute.F32, n int, decay float32) {
	b.enter()
	defer runtime.UnlockOSThread()
	b.args.reset().f32p(ema).f32p(params).i64(n).f32(decay)
	b.launch1("ema", n)
}
