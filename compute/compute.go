package compute

// F32 is a view of N float32 values in memory owned by one Backend.
// On the CPU backend Host holds the values; on a device backend Dev is the
// device address of the first value and Host is nil. Views are cheap values:
// slicing never copies.
type F32 struct {
	Host []float32
	Dev  uintptr
	N    int
}

// Slice returns the n values starting at off.
func (t F32) Slice(off, n int) F32 {
	if off < 0 || n < 0 || off+n > t.N {
		panic("compute: F32 slice out of range") // programmer error, never user input
	}
	s := F32{N: n}
	if t.Host != nil {
		s.Host = t.Host[off : off+n : off+n]
	}
	if t.Dev != 0 {
		s.Dev = t.Dev + uintptr(off)*4
	}
	return s
}

// I32 is a view of N int32 values (token ids, targets, masks) owned by one Backend.
type I32 struct {
	Host []int32
	Dev  uintptr
	N    int
}

// Slice returns the n values starting at off.
func (t I32) Slice(off, n int) I32 {
	if off < 0 || n < 0 || off+n > t.N {
		panic("compute: I32 slice out of range")
	}
	s := I32{N: n}
	if t.Host != nil {
		s.Host = t.Host[off : off+n : off+n]
	}
	if t.Dev != 0 {
		s.Dev = t.Dev + uintptr(off)*4
	}
	return s
}

// Backend is the set of kernels the transformer is built from. Each kernel
// has its forward and backward side by side. Shapes use B batch, T sequence
// length, C channels (d_model), H heads, V vocabulary, N = B*T rows.
// Backward kernels ACCUMULATE into parameter gradients (dw, db, dwte) and,
// unless stated otherwise, into input gradients too, so that residual
// branches sum without extra copies. Zero-length views (N == 0) mean
// "absent": no bias, no mask, no gradient wanted.
//
// Kernels may run asynchronously on a device; Download and Sync are the
// points where results are visible to the host and errors surface.
type Backend interface {
	Name() string

	// Memory. Alloc returns zeroed storage.
	Alloc(n int) F32
	AllocI32(n int) I32
	Free(t F32)
	FreeI32(t I32)
	Upload(dst F32, src []float32)
	Download(dst []float32, src F32)
	UploadI32(dst I32, src []int32)
	Zero(t F32)
	Copy(dst, src F32)
	Sync() error

	// Token embedding.
	// out (N,C) = wte (V,C) [tok (N)]
	EmbeddingForward(out F32, tok I32, wte F32, N, C int)
	// dwte (V,C) += scatter of dout (N,C) by tok (N)
	EmbeddingBackward(dwte, dout F32, tok I32, N, C int)

	// LayerNorm over the last dim, eps 1e-5.
	// out (N,C), mean (N), rstd (N) <- inp (N,C), w (C), b (C)
	LayerNormForward(out, mean, rstd, inp, w, b F32, N, C int)
	// dinp (N,C) +=, dw (C) +=, db (C) += <- dout (N,C), inp, w, mean, rstd
	LayerNormBackward(dinp, dw, db, dout, inp, w, mean, rstd F32, N, C int)

	// Linear layer in PyTorch nn.Linear layout.
	// out (N,OC) = inp (N,IC) . w (OC,IC)^T + bias (OC, optional)
	MatmulForward(out, inp, w, bias F32, N, IC, OC int)
	// dinp (N,IC) += dout . w (optional), dw (OC,IC) += dout^T . inp, dbias (OC) += sum_n dout (optional)
	MatmulBackward(dinp, dw, dbias, dout, inp, w F32, N, IC, OC int)

	// Rotary position embedding, rotate-half convention, base 10000, over the
	// whole head dim hd = C/H, applied in place to the q and k thirds of
	// qkv (B,T,3C) (layout: [q | k | v], each (H, hd)). Position of row t is t+pos0.
	RotaryForward(qkv F32, B, T, C, H, pos0 int)
	// dqkv (B,T,3C): the inverse rotation applied in place to its q and k thirds.
	RotaryBackward(dqkv F32, B, T, C, H, pos0 int)

	// Multi-head scaled dot-product attention.
	// out (B,T,C), lse (B,H,T) log-sum-exp of each query's scaled scores
	// <- qkv (B,T,3C) (rotary already applied), keyMask (B,T) 1 = valid key,
	// 0 = padding (optional), causal: query t sees keys <= t.
	AttentionForward(out, lse, qkv F32, keyMask I32, B, T, C, H int, causal bool)
	// dqkv (B,T,3C) OVERWRITTEN <- dout (B,T,C), qkv, out, lse, as forward.
	AttentionBackward(dqkv, dout, qkv, out, lse F32, keyMask I32, B, T, C, H int, causal bool)

	// Incremental (KV-cache) attention of one new query per row, for causal
	// decoding; inference only, no backward.
	// out (B,C) <- the q third of qkv (B,3C) (rotary applied), the keys and
	// values of positions 0..Tk-1 in kCache, vCache (B,Tmax,C) (rotary applied
	// to the keys; row b's position t at (b*Tmax+t)*C). Scores scaled by
	// 1/sqrt(hd); the query sees all Tk cached positions (its own included).
	AttentionDecode(out, qkv, kCache, vCache F32, B, Tk, Tmax, C, H int)

	// GELU, tanh approximation.
	// out (n) = gelu(inp (n))
	GeluForward(out, inp F32, n int)
	// dinp (n) OVERWRITTEN = dout * gelu'(inp); dinp may alias dout.
	GeluBackward(dinp, inp, dout F32, n int)

	// SiLU (x * sigmoid(x)), for the time embedding of adaLN conditioning.
	// out (n) = silu(inp (n))
	SiluForward(out, inp F32, n int)
	// dinp (n) OVERWRITTEN = dout * silu'(inp); dinp may alias dout.
	SiluBackward(dinp, inp, dout F32, n int)

	// DiT adaLN (MDLM time conditioning). Every position of row b shares
	// the row's shift, scale and gate, read from strided views: shift (B,S)
	// holds row b's C values at shift[b*S : b*S+C] (S >= C is the stride of
	// the modulation buffer the views are cut from, so one (B,6C) buffer
	// serves all six chunks of a block).
	// out (B,T,C) = inp (B,T,C) * (1 + scale[b]) + shift[b]; out may alias inp.
	ModulateForward(out, inp, shift, scale F32, B, T, C, S int)
	// dinp (B,T,C) OVERWRITTEN = dout * (1 + scale[b]), may alias dout;
	// dshift[b] += sum_t dout ; dscale[b] += sum_t dout * inp.
	ModulateBackward(dinp, dshift, dscale, dout, inp, scale F32, B, T, C, S int)
	// Gated residual: out (B,T,C) = res + gate[b] * y; out may alias res.
	GateForward(out, res, y, gate F32, B, T, C, S int)
	// dy (B,T,C) OVERWRITTEN = dout * gate[b] (dy must not alias dout);
	// dgate[b] += sum_t dout * y. The residual's gradient is dout itself.
	GateBackward(dy, dgate, dout, y, gate F32, B, T, C, S int)

	// Residual add: out (n) = a + b. Its backward is Accumulate.
	Add(out, a, b F32, n int)
	// dst (n) += src (n)
	Accumulate(dst, src F32, n int)
	// x (n) *= s
	Scale(x F32, n int, s float32)

	// Fused softmax cross-entropy over logits (N,V) with per-row weights.
	// losses (N) = weight[n] * -log softmax(logits[n])[target[n]], 0 where
	// target == ignore or weight == 0. banned >= 0 is a class whose logit is
	// treated as -inf (MDLM SUBS never predicts [MASK]); -1 for none.
	// weights (N) optional (all 1). If backward, logits is OVERWRITTEN by
	// dlogits = gradScale * weight * (softmax - onehot) (0 on ignored rows),
	// so only one copy of the logits ever exists.
	CrossEntropy(losses, logits F32, targets I32, weights F32, N, V, ignore, banned int, backward bool, gradScale float32)
	// probs (N,V) = softmax(logits / temperature) with banned's probability 0 (banned -1: none).
	Softmax(probs, logits F32, N, V, banned int, temperature float32)

	// Mean over valid positions: out (B,C) = mean_{t: mask[b,t]==1} inp (B,T,C).
	// mask (B,T) optional (all valid). A row with no valid position gives 0.
	MeanPoolForward(out, inp F32, mask I32, B, T, C int)
	// dinp (B,T,C) += dout (B,C) / count at valid positions.
	MeanPoolBackward(dinp, dout F32, mask I32, B, T, C int)

	// Optimiser and bookkeeping.
	// AdamW with decoupled weight decay and bias correction at step t (1-based):
	// m = b1 m + (1-b1) g ; v = b2 v + (1-b2) g^2 ;
	// p -= lr * ( (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps) + wd * p )
	AdamW(params, grads, m, v F32, n int, lr, beta1, beta2, eps, wd float32, t int)
	// sum of x^2 in float64 (global-norm clipping; NaN/Inf propagate so faults are seen).
	SumSquares(x F32, n int) float64
	// ema (n) = decay*ema + (1-decay)*params
	EMA(ema, params F32, n int, decay float32)
}

// Collective is one rank's share of a device's own collective library
// (NCCL for the CUDA backend): the ranks of a data-parallel run sum their
// gradients on the devices, without a trip through host memory.
type Collective interface {
	// AllReduceSum sums x over the ranks, in place, after the work queued
	// before it; every rank gets the same bits.
	AllReduceSum(x F32) error
	// Close releases the communicator; Abort ends it without waiting for
	// the other ranks (a failing run).
	Close() error
	Abort()
	String() string
}

// CollectiveBackend is a Backend with its own collective library. Rank 0
// makes an id (CollectiveID), the caller sends it to every rank by other
// means (MPI), and every rank joins with it (JoinCollective is collective:
// it returns when all nranks have joined).
type CollectiveBackend interface {
	Backend
	CollectiveID() ([]byte, error)
	JoinCollective(id []byte, nranks, rank int) (Collective, error)
}
