package nn

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/seqdiff/seqdiff/compute"
)

// Model is the backbone: its configuration, the parameter table, one
// contiguous parameter buffer (and, once training is enabled, a gradient
// buffer of the same layout) and the activations of the last forward pass.
// All buffers live in the backend's memory.
type Model struct {
	Cfg   Config
	Table []Tensor

	be     compute.Backend
	params compute.F32
	grads  compute.F32 // N == 0 until EnableTraining
	p, g   paramViews

	acts *activations
	// state of the last forward: what Backward may use.
	causal     bool
	hasMask    bool
	haveDLogit bool // logits buffer holds dlogits (CrossEntropy with backward)
	// The head runs lazily: Forward stops at final_ln. headFull says the
	// logits buffer holds the whole (N,V) head output (Logits computes it
	// on demand); headRows > 0 says the last CrossEntropy ran the head on
	// only its headRows counted rows (gathered into lnfRows, indices in
	// rowIdx), and the first headRows*V logits are theirs. At a text
	// vocabulary most rows carry no loss (PAD, MDLM's unmasked tokens), and
	// the head is most of the step.
	headFull bool
	headRows int
}

// New allocates a model of shape cfg on be with all parameters zero; call
// Init or SetParams next.
func New(be compute.Backend, cfg Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Model{Cfg: cfg, Table: ParamTable(cfg), be: be}
	m.params = be.Alloc(NumParams(cfg))
	m.p = makeViews(m.params, m.Table, cfg.NLayers)
	return m, nil
}

// Backend is the backend the model lives on.
func (m *Model) Backend() compute.Backend { return m.be }

// Params is the parameter buffer (layout: Table).
func (m *Model) Params() compute.F32 { return m.params }

// Grads is the gradient buffer (layout: Table); empty before EnableTraining.
func (m *Model) Grads() compute.F32 { return m.grads }

// NumParams is the number of parameters.
func (m *Model) NumParams() int { return m.params.N }

// EnableTraining allocates the gradient buffer (zeroed) and, from the next
// forward pass on, the backward scratch buffers.
func (m *Model) EnableTraining() {
	if m.grads.N != 0 {
		return
	}
	m.grads = m.be.Alloc(m.params.N)
	m.g = makeViews(m.grads, m.Table, m.Cfg.NLayers)
	if m.acts != nil { // reallocate with backward scratch
		m.freeActs()
	}
}

// ZeroGrad clears the gradients (backward accumulates into them).
func (m *Model) ZeroGrad() {
	if m.grads.N != 0 {
		m.be.Zero(m.grads)
	}
}

// Free releases the model's backend memory.
func (m *Model) Free() {
	m.freeActs()
	m.be.Free(m.params)
	if m.grads.N != 0 {
		m.be.Free(m.grads)
	}
	m.params, m.grads = compute.F32{}, compute.F32{}
}

// Init fills the parameters deterministically from seed: a math/rand/v2
// PCG generator seeded (seed, InitStream) draws, tensor by tensor in table
// order, normal(0, 0.02) for every weight matrix (embed, qkv, out, fc1,
// fc2, head), with the residual output projections (attn.out, mlp.fc2)
// further scaled by 1/sqrt(2 n_layers) as in GPT-2; biases are 0,
// LayerNorm weights 1 and biases 0. With time conditioning, time_embed's
// weights are normal(0, 0.02) too and every adaLN_modulation is zero (DiT's
// adaLN-Zero, as MDLM initialises it): every gate starts at 0, so each
// block starts as the identity and learns how much to add.
func (m *Model) Init(seed uint64) {
	host := InitParams(m.Cfg, seed)
	m.be.Upload(m.params, host)
}

// InitStream is the PCG stream constant used by Init.
const InitStream = 0x5eed0f5eed

// InitParams returns the initial parameters of cfg for seed (see Init) as
// a host slice laid out by ParamTable.
func InitParams(cfg Config, seed uint64) []float32 {
	table := ParamTable(cfg)
	host := make([]float32, NumParams(cfg))
	rng := rand.New(rand.NewPCG(seed, InitStream))
	resid := 0.02 / math.Sqrt(2*float64(cfg.NLayers))
	for _, t := range table {
		dst := host[t.Offset : t.Offset+t.Size]
		std := 0.0
		switch {
		case hasSuffix(t.Name, "adaLN_modulation.weight"):
			// zero (adaLN-Zero)
		case hasSuffix(t.Name, "attn.out.weight"), hasSuffix(t.Name, "mlp.fc2.weight"):
			std = resid
		case len(t.Shape) == 2: // embed, qkv, fc1, head
			std = 0.02
		case hasSuffix(t.Name, "ln1.weight"), hasSuffix(t.Name, "ln2.weight"), t.Name == "final_ln.weight":
			for i := range dst {
				dst[i] = 1
			}
		}
		if std > 0 {
			for i := range dst {
				dst[i] = float32(rng.NormFloat64() * std)
			}
		}
	}
	return host
}

func hasSuffix(s, suf string) bool { return len(s) >= len(suf) && s[len(s)-len(suf):] == suf }

// ParamsHost downloads the parameters to a host slice (layout: Table).
func (m *Model) ParamsHost() []float32 {
	out := make([]float32, m.params.N)
	m.be.Download(out, m.params)
	return out
}

// SetParams uploads host parameters laid out by Table.
func (m *Model) SetParams(host []float32) error {
	if len(host) != m.params.N {
		return fmt.Errorf("set params: have %d values, model has %d", len(host), m.params.N)
	}
	m.be.Upload(m.params, host)
	return nil
}

// blockActs are what one block's forward keeps for its backward.
type blockActs struct {
	ln1, ln1Mean, ln1Rstd compute.F32 // (N,C), (N), (N)
	qkv                   compute.F32 // (N,3C), rotary applied
	atty                  compute.F32 // (N,C) attention output before out
	lse                   compute.F32 // (B,H,T)
	resMid                compute.F32 // (N,C) residual after attention
	ln2, ln2Mean, ln2Rstd compute.F32 // (N,C), (N), (N)
	fc1                   compute.F32 // (N,4C) pre-GELU
	gelu                  compute.F32 // (N,4C)
	resOut                compute.F32 // (N,C) block output

	// time conditioning only: ln1 and ln2 above hold the modulated
	// LayerNorm outputs (the matmuls' inputs) and these the rest.
	mod        compute.F32 // (B,6C) shift, scale, gate (attention), shift, scale, gate (MLP)
	ln1n, ln2n compute.F32 // (N,C) LayerNorm outputs before modulation
	attnProj   compute.F32 // (N,C) out(Attn(...)) before its gate
	mlpProj    compute.F32 // (N,C) fc2(...) before its gate
}

// condActs are the time conditioning's activations and backward scratch.
type condActs struct {
	freq     compute.F32 // (B,256) sinusoidal embedding of 1000 t
	te1, te2 compute.F32 // (B,C) time_embed.mlp.0 and .2 outputs (pre-SiLU)
	te1s     compute.F32 // (B,C) silu(te1)
	c        compute.F32 // (B,C) conditioning vector silu(te2)
	modf     compute.F32 // (B,2C) final shift, scale
	lnfn     compute.F32 // (N,C) final_ln output before modulation

	dmod  compute.F32 // (B,6C) one block's (or the final layer's) modulation gradient
	dc    compute.F32 // (B,C) gradient of c, summed over blocks
	dte   compute.F32 // (B,C)
	dproj compute.F32 // (N,C) gradient of a gated branch's output

	hostFreq []float32
}

// activations are allocated once per (B,T) shape, in one backend buffer,
// and reused by every step of that shape.
type activations struct {
	B, T    int
	buf     compute.F32
	ibuf    compute.I32
	tokens  compute.I32 // (N)
	keyMask compute.I32 // (N)
	targets compute.I32 // (N)

	encoded               compute.F32 // (N,C)
	blocks                []blockActs
	lnf, lnfMean, lnfRstd compute.F32 // (N,C), (N), (N)
	lnfRows, dlnRows      compute.F32 // (R,C) gathered rows of lnf and their gradient, R <= N
	rowIdx                compute.I32 // (R) the rows of lnf that carry a loss
	logits                compute.F32 // (N,V) or (R,V); dlogits after a backward CrossEntropy
	losses                compute.F32 // (N)
	weights               compute.F32 // (N)
	cond                  *condActs   // nil without time conditioning

	// backward scratch, shared by all layers (only when training)
	dres, dln, datty compute.F32 // (N,C)
	dqkv             compute.F32 // (N,3C)
	dfc              compute.F32 // (N,4C)

	hostLosses []float32
	hostRows   []int32   // (R) rows with a loss, on the host
	rowTargets []int32   // (R) their targets
	rowWeights []float32 // (R) their weights
}

func (m *Model) freeActs() {
	if m.acts == nil {
		return
	}
	m.be.Free(m.acts.buf)
	m.be.FreeI32(m.acts.ibuf)
	m.acts = nil
}

// ensureActs (re)allocates the activations for a (B,T) batch.
func (m *Model) ensureActs(B, T int) *activations {
	if a := m.acts; a != nil && a.B == B && a.T == T {
		return a
	}
	m.freeActs()
	C, V, H, N := m.Cfg.DModel, m.Cfg.VocabSize, m.Cfg.NHeads, B*T
	a := &activations{B: B, T: T, blocks: make([]blockActs, m.Cfg.NLayers), hostLosses: make([]float32, N)}
	// Two passes over the same list: sum the sizes, then slice one buffer.
	var slots []*compute.F32
	var sizes []int
	want := func(p *compute.F32, n int) { slots = append(slots, p); sizes = append(sizes, n) }
	want(&a.encoded, N*C)
	if m.Cfg.TimeConditioning {
		ca := &condActs{hostFreq: make([]float32, B*TimeFreqDim)}
		a.cond = ca
		want(&ca.freq, B*TimeFreqDim)
		want(&ca.te1, B*C)
		want(&ca.te1s, B*C)
		want(&ca.te2, B*C)
		want(&ca.c, B*C)
		want(&ca.modf, B*2*C)
		want(&ca.lnfn, N*C)
		for i := range a.blocks {
			b := &a.blocks[i]
			want(&b.mod, B*6*C)
			want(&b.ln1n, N*C)
			want(&b.ln2n, N*C)
			want(&b.attnProj, N*C)
			want(&b.mlpProj, N*C)
		}
		if m.grads.N != 0 {
			want(&ca.dmod, B*6*C)
			want(&ca.dc, B*C)
			want(&ca.dte, B*C)
			want(&ca.dproj, N*C)
		}
	}
	for i := range a.blocks {
		b := &a.blocks[i]
		want(&b.ln1, N*C)
		want(&b.ln1Mean, N)
		want(&b.ln1Rstd, N)
		want(&b.qkv, N*3*C)
		want(&b.atty, N*C)
		want(&b.lse, B*H*T)
		want(&b.resMid, N*C)
		want(&b.ln2, N*C)
		want(&b.ln2Mean, N)
		want(&b.ln2Rstd, N)
		want(&b.fc1, N*4*C)
		want(&b.gelu, N*4*C)
		want(&b.resOut, N*C)
	}
	want(&a.lnf, N*C)
	want(&a.lnfMean, N)
	want(&a.lnfRstd, N)
	want(&a.lnfRows, N*C)
	want(&a.logits, N*V)
	want(&a.losses, N)
	want(&a.weights, N)
	if m.grads.N != 0 {
		want(&a.dres, N*C)
		want(&a.dln, N*C)
		want(&a.datty, N*C)
		want(&a.dqkv, N*3*C)
		want(&a.dfc, N*4*C)
		want(&a.dlnRows, N*C)
	}
	total := 0
	for _, n := range sizes {
		total += n
	}
	a.buf = m.be.Alloc(total)
	off := 0
	for i, p := range slots {
		*p = a.buf.Slice(off, sizes[i])
		off += sizes[i]
	}
	a.ibuf = m.be.AllocI32(4 * N)
	a.tokens, a.keyMask, a.targets = a.ibuf.Slice(0, N), a.ibuf.Slice(N, N), a.ibuf.Slice(2*N, N)
	a.rowIdx = a.ibuf.Slice(3*N, N)
	m.acts = a
	return a
}

// ActivationFloats is the number of float32 values the activations of a
// (B,T) batch take (with backward scratch when training is enabled).
func (m *Model) ActivationFloats() int {
	if m.acts == nil {
		return 0
	}
	return m.acts.buf.N
}

// Forward runs the backbone on tokens (B,T) row-major and leaves the
// logits (B*T, V) in backend memory (Logits) and the final hidden state
// (after final_ln) in Hidden. keyMask (B,T), optional (nil), marks valid
// keys with 1 and padding with 0; causal selects causal attention.
// Token ids outside the vocabulary are errors. A time-conditioned model
// reads its input as clean (t = 0), as classification wants; MDLM passes
// each row's time with ForwardTime.
func (m *Model) Forward(tokens, keyMask []int32, B, T int, causal bool) error {
	return m.ForwardTime(tokens, keyMask, nil, B, T, causal)
}

// ForwardTime is Forward with the diffusion time t (B) of each row, in
// [0, 1], for a model with time conditioning (nil: all 0). A model without
// time conditioning ignores t, as MDLM's backbone does then.
func (m *Model) ForwardTime(tokens, keyMask []int32, t []float32, B, T int, causal bool) error {
	if B < 1 || T < 1 {
		return fmt.Errorf("forward: batch %dx%d is empty", B, T)
	}
	if T > m.Cfg.SeqLen {
		return fmt.Errorf("forward: length %d exceeds the model's seq_len %d", T, m.Cfg.SeqLen)
	}
	N := B * T
	if len(tokens) != N {
		return fmt.Errorf("forward: %d tokens for a %dx%d batch", len(tokens), B, T)
	}
	V := int32(m.Cfg.VocabSize)
	for i, id := range tokens {
		if id < 0 || id >= V {
			return fmt.Errorf("forward: token %d at row %d position %d outside vocabulary [0,%d)", id, i/T, i%T, V)
		}
	}
	if keyMask != nil && len(keyMask) != N {
		return fmt.Errorf("forward: key mask has %d values for a %dx%d batch", len(keyMask), B, T)
	}
	if t != nil {
		if len(t) != B {
			return fmt.Errorf("forward: %d times for %d rows", len(t), B)
		}
		for b, tb := range t {
			if !(tb >= 0 && tb <= 1) {
				return fmt.Errorf("forward: row %d: time %v outside [0, 1]", b, tb)
			}
		}
	}
	a := m.ensureActs(B, T)
	if a.cond != nil {
		timeEmbedding(a.cond.hostFreq, t, B)
		m.be.Upload(a.cond.freq, a.cond.hostFreq)
	}
	m.be.UploadI32(a.tokens, tokens)
	mask := compute.I32{}
	if keyMask != nil {
		m.be.UploadI32(a.keyMask, keyMask)
		mask = a.keyMask
	}
	m.causal, m.hasMask, m.haveDLogit = causal, keyMask != nil, false
	m.headFull, m.headRows = false, 0
	m.forward(a, mask)
	return nil
}

// timeEmbedding writes DiT's sinusoidal embedding of 1000 t for each row
// (t nil: all 0) into out (B,256): [cos(1000 t f_k) | sin(1000 t f_k)],
// f_k = 10000^(-k/128), k < 128. Scaling t in [0,1] to DiT's timestep range
// [0,1000] lets the fast frequencies resolve nearby times.
func timeEmbedding(out []float32, t []float32, B int) {
	const half = TimeFreqDim / 2
	for b := 0; b < B; b++ {
		tb := 0.0
		if t != nil {
			tb = 1000 * float64(t[b])
		}
		row := out[b*TimeFreqDim : (b+1)*TimeFreqDim]
		for k := 0; k < half; k++ {
			arg := tb * math.Exp(-math.Log(10000)*float64(k)/half)
			row[k], row[half+k] = float32(math.Cos(arg)), float32(math.Sin(arg))
		}
	}
}

// chunk is the k-th C-wide chunk of every row of a (B,S) modulation
// buffer, as the strided view the adaLN kernels read.
func chunk(mod compute.F32, k, B, C, S int) compute.F32 {
	return mod.Slice(k*C, (B-1)*S+C)
}

func (m *Model) forward(a *activations, mask compute.I32) {
	be, p := m.be, m.p
	B, T, C, H := a.B, a.T, m.Cfg.DModel, m.Cfg.NHeads
	N := B * T
	none := compute.F32{}
	ca := a.cond

	if ca != nil {
		// c (B,C) = silu(mlp.2(silu(mlp.0(emb(t))))), as MDLM's
		// c = F.silu(sigma_map(sigma)).
		be.MatmulForward(ca.te1, ca.freq, p.te1w, p.te1b, B, TimeFreqDim, C)
		be.SiluForward(ca.te1s, ca.te1, B*C)
		be.MatmulForward(ca.te2, ca.te1s, p.te2w, p.te2b, B, C, C)
		be.SiluForward(ca.c, ca.te2, B*C)
	}
	be.EmbeddingForward(a.encoded, a.tokens, p.embed, N, C)
	x := a.encoded
	for l := range a.blocks {
		w, b := p.blocks[l], &a.blocks[l]
		if ca != nil {
			m.forwardBlockCond(a, l, x, mask)
			x = b.resOut
			continue
		}
		// attention branch: resMid = x + out(Attn(rope(ln1(x))))
		be.LayerNormForward(b.ln1, b.ln1Mean, b.ln1Rstd, x, w.ln1w, w.ln1b, N, C)
		be.MatmulForward(b.qkv, b.ln1, w.qkvw, none, N, C, 3*C)
		be.RotaryForward(b.qkv, B, T, C, H, 0)
		be.AttentionForward(b.atty, b.lse, b.qkv, mask, B, T, C, H, m.causal)
		be.MatmulForward(b.resMid, b.atty, w.outw, none, N, C, C)
		be.Accumulate(b.resMid, x, N*C)
		// MLP branch: resOut = resMid + fc2(gelu(fc1(ln2(resMid))))
		be.LayerNormForward(b.ln2, b.ln2Mean, b.ln2Rstd, b.resMid, w.ln2w, w.ln2b, N, C)
		be.MatmulForward(b.fc1, b.ln2, w.fc1w, w.fc1b, N, C, 4*C)
		be.GeluForward(b.gelu, b.fc1, N*4*C)
		be.MatmulForward(b.resOut, b.gelu, w.fc2w, w.fc2b, N, 4*C, C)
		be.Accumulate(b.resOut, b.resMid, N*C)
		x = b.resOut
	}
	if ca != nil {
		// lnf (N,C) = final_ln(x) * (1 + scale) + shift, (shift, scale) = adaLN(c)
		be.MatmulForward(ca.modf, ca.c, p.finw, p.finb, B, C, 2*C)
		be.LayerNormForward(ca.lnfn, a.lnfMean, a.lnfRstd, x, p.lnfw, p.lnfb, N, C)
		be.ModulateForward(a.lnf, ca.lnfn, chunk(ca.modf, 0, B, C, 2*C), chunk(ca.modf, 1, B, C, 2*C), B, T, C, 2*C)
	} else {
		be.LayerNormForward(a.lnf, a.lnfMean, a.lnfRstd, x, p.lnfw, p.lnfb, N, C)
	}
	// The head runs on demand: Logits, or CrossEntropy on its rows.
}

// forwardBlockCond is block l with DiT adaLN (MDLM's DDiTBlock), x its input:
//
//	shift1, scale1, gate1, shift2, scale2, gate2 = adaLN_modulation(c)
//	resMid = x + gate1 * out(Attn(rope(ln1(x) * (1 + scale1) + shift1)))
//	resOut = resMid + gate2 * fc2(gelu(fc1(ln2(resMid) * (1 + scale2) + shift2)))
func (m *Model) forwardBlockCond(a *activations, l int, x compute.F32, mask compute.I32) {
	be, w, b, ca := m.be, m.p.blocks[l], &a.blocks[l], a.cond
	B, T, C, H := a.B, a.T, m.Cfg.DModel, m.Cfg.NHeads
	N, S := B*T, 6*C
	none := compute.F32{}
	be.MatmulForward(b.mod, ca.c, w.adaw, w.adab, B, C, S)
	be.LayerNormForward(b.ln1n, b.ln1Mean, b.ln1Rstd, x, w.ln1w, w.ln1b, N, C)
	be.ModulateForward(b.ln1, b.ln1n, chunk(b.mod, 0, B, C, S), chunk(b.mod, 1, B, C, S), B, T, C, S)
	be.MatmulForward(b.qkv, b.ln1, w.qkvw, none, N, C, 3*C)
	be.RotaryForward(b.qkv, B, T, C, H, 0)
	be.AttentionForward(b.atty, b.lse, b.qkv, mask, B, T, C, H, m.causal)
	be.MatmulForward(b.attnProj, b.atty, w.outw, none, N, C, C)
	be.GateForward(b.resMid, x, b.attnProj, chunk(b.mod, 2, B, C, S), B, T, C, S)
	be.LayerNormForward(b.ln2n, b.ln2Mean, b.ln2Rstd, b.resMid, w.ln2w, w.ln2b, N, C)
	be.ModulateForward(b.ln2, b.ln2n, chunk(b.mod, 3, B, C, S), chunk(b.mod, 4, B, C, S), B, T, C, S)
	be.MatmulForward(b.fc1, b.ln2, w.fc1w, w.fc1b, N, C, 4*C)
	be.GeluForward(b.gelu, b.fc1, N*4*C)
	be.MatmulForward(b.mlpProj, b.gelu, w.fc2w, w.fc2b, N, 4*C, C)
	be.GateForward(b.resOut, b.resMid, b.mlpProj, chunk(b.mod, 5, B, C, S), B, T, C, S)
}

// ensureHead computes the full head, logits (N,V) = lnf (N,C) . head^T + b,
// unless the buffer holds it already.
func (m *Model) ensureHead() {
	if a := m.acts; !m.headFull {
		m.be.MatmulForward(a.logits, a.lnf, m.p.headw, m.p.headb, a.B*a.T, m.Cfg.DModel, m.Cfg.VocabSize)
		m.headFull, m.headRows = true, 0
	}
}

// Logits is the (B*T, V) logits of the last Forward (backend memory),
// computed on the first call after a Forward. After a CrossEntropy with
// backward the buffer holds the logits' gradient instead (of the counted
// rows only, first, when the loss ran the head on those rows alone).
func (m *Model) Logits() compute.F32 {
	if !m.haveDLogit {
		m.ensureHead()
	}
	return m.acts.logits
}

// LogitsHost downloads the logits of the last Forward.
func (m *Model) LogitsHost() ([]float32, error) {
	if m.acts == nil {
		return nil, errors.New("logits: no forward pass yet")
	}
	if m.haveDLogit {
		return nil, errors.New("logits: overwritten by the loss gradient; run Forward again")
	}
	m.ensureHead()
	out := make([]float32, m.acts.logits.N)
	m.be.Download(out, m.acts.logits)
	return out, m.be.Sync()
}

// Hidden is the final hidden state (B*T, C) after final_ln of the last
// Forward (and its adaLN modulation, with time conditioning): the head's
// input, for mean-pool classification heads.
func (m *Model) Hidden() compute.F32 { return m.acts.lnf }

// HiddenLayer is the hidden state (B*T, C) of layer l of the last Forward,
// numbered as Hugging Face's hidden_states: 0 the token embedding, l in
// 1..NLayers-1 the residual stream after block l, NLayers the final state
// after final_ln (Hidden; the last block's output before final_ln is not
// kept apart). It panics on l outside [0, NLayers].
func (m *Model) HiddenLayer(l int) compute.F32 {
	switch {
	case l < 0 || l > m.Cfg.NLayers:
		panic(fmt.Sprintf("hidden layer %d outside [0, %d]", l, m.Cfg.NLayers))
	case l == 0:
		return m.acts.encoded
	case l == m.Cfg.NLayers:
		return m.acts.lnf
	}
	return m.acts.blocks[l-1].resOut
}

// CrossEntropy is the loss the objectives call after Forward:
//
//	loss = sum_n weight[n] * -log softmax(logits[n])[target[n]] / normaliser
//
// over rows whose target is not ignore (weights nil: all 1). banned >= 0 is
// a class whose logit counts as -inf (MDLM never predicts [MASK]); -1 for
// none. With backward, the logits buffer is overwritten by dloss/dlogits,
// ready for Backward. The per-row losses (weighted, not normalised) are
// kept and returned by RowLosses.
func (m *Model) CrossEntropy(targets []int32, weights []float32, ignore, banned int, normaliser float64, backward bool) (float64, error) {
	a := m.acts
	if a == nil || m.haveDLogit {
		return 0, errors.New("cross-entropy: no fresh forward pass")
	}
	N, V := a.B*a.T, m.Cfg.VocabSize
	if len(targets) != N {
		return 0, fmt.Errorf("cross-entropy: %d targets for %d rows", len(targets), N)
	}
	if weights != nil && len(weights) != N {
		return 0, fmt.Errorf("cross-entropy: %d weights for %d rows", len(weights), N)
	}
	if !(normaliser > 0) || math.IsInf(normaliser, 0) {
		return 0, fmt.Errorf("cross-entropy: normaliser %v must be positive and finite", normaliser)
	}
	if banned >= V {
		return 0, fmt.Errorf("cross-entropy: banned class %d outside vocabulary", banned)
	}
	for i, t := range targets {
		if int(t) == ignore {
			continue
		}
		if t < 0 || int(t) >= V {
			return 0, fmt.Errorf("cross-entropy: target %d at row %d outside vocabulary [0,%d)", t, i, V)
		}
		if int(t) == banned && (weights == nil || weights[i] != 0) {
			return 0, fmt.Errorf("cross-entropy: target at row %d is the banned class %d", i, banned)
		}
	}
	// Rows without a loss need no logits: unless the full head is there
	// already or nearly every row counts, gather the counted rows of lnf
	// and run the head and the loss on those alone.
	rows := a.hostRows[:0]
	if !m.headFull {
		for i, t := range targets {
			if int(t) != ignore && (weights == nil || weights[i] != 0) {
				rows = append(rows, int32(i))
			}
		}
		a.hostRows = rows
	}
	if m.headFull || 4*len(rows) > 3*N {
		m.ensureHead()
		m.be.UploadI32(a.targets, targets)
		w := compute.F32{}
		if weights != nil {
			m.be.Upload(a.weights, weights)
			w = a.weights
		}
		m.be.CrossEntropy(a.losses, a.logits, a.targets, w, N, V, ignore, banned, backward, float32(1/normaliser))
		m.be.Download(a.hostLosses, a.losses)
	} else {
		R, C := len(rows), m.Cfg.DModel
		a.rowTargets, a.rowWeights = a.rowTargets[:0], a.rowWeights[:0]
		for _, i := range rows {
			a.rowTargets = append(a.rowTargets, targets[i])
			if weights != nil {
				a.rowWeights = append(a.rowWeights, weights[i])
			}
		}
		clear(a.hostLosses)
		if R > 0 {
			m.be.UploadI32(a.rowIdx.Slice(0, R), rows)
			m.be.UploadI32(a.targets.Slice(0, R), a.rowTargets)
			w := compute.F32{}
			if weights != nil {
				w = a.weights.Slice(0, R)
				m.be.Upload(w, a.rowWeights)
			}
			// lnfRows (R,C) = lnf (N,C) [rows]; logits (R,V) = lnfRows . head^T + b
			lnfR, logitsR := a.lnfRows.Slice(0, R*C), a.logits.Slice(0, R*V)
			m.be.EmbeddingForward(lnfR, a.rowIdx.Slice(0, R), a.lnf, R, C)
			m.be.MatmulForward(logitsR, lnfR, m.p.headw, m.p.headb, R, C, V)
			m.be.CrossEntropy(a.losses.Slice(0, R), logitsR, a.targets.Slice(0, R), w, R, V, ignore, banned, backward, float32(1/normaliser))
			m.be.Download(a.hostLosses[:R], a.losses.Slice(0, R))
			// Spread the R losses back to their rows (last to first: row
			// rows[j] >= j, so no loss is overwritten before it is moved).
			for j := R - 1; j >= 0; j-- {
				l := a.hostLosses[j]
				a.hostLosses[j] = 0
				a.hostLosses[rows[j]] = l
			}
		}
		m.headFull, m.headRows = false, R
		if R == 0 {
			m.headRows = -1 // no row counts: the head's gradient is zero
		}
	}
	if err := m.be.Sync(); err != nil {
		return 0, err
	}
	m.haveDLogit = backward
	sum := 0.0
	for _, l := range a.hostLosses {
		sum += float64(l)
	}
	return sum / normaliser, nil
}

// RowLosses are the per-row weighted losses of the last CrossEntropy
// (host memory, reused by the next call).
func (m *Model) RowLosses() []float32 { return m.acts.hostLosses }

// Backward accumulates into the gradients the backward pass of the last
// Forward from the logits' gradient left by CrossEntropy(..., backward).
func (m *Model) Backward() error {
	if err := m.checkBackward(); err != nil {
		return err
	}
	if !m.haveDLogit {
		return errors.New("backward: no loss gradient; call CrossEntropy with backward first")
	}
	a := m.acts
	N, C, V := a.B*a.T, m.Cfg.DModel, m.Cfg.VocabSize
	m.be.Zero(a.dln)
	switch R := m.headRows; {
	case R > 0:
		// head on the gathered rows, then dln (N,C) += scatter of dlnRows (R,C)
		dlnR := a.dlnRows.Slice(0, R*C)
		m.be.Zero(dlnR)
		m.be.MatmulBackward(dlnR, m.g.headw, m.g.headb, a.logits.Slice(0, R*V), a.lnfRows.Slice(0, R*C), m.p.headw, R, C, V)
		m.be.EmbeddingBackward(a.dln, dlnR, a.rowIdx.Slice(0, R), R, C)
	case R == 0:
		// head: logits (N,V) = lnf (N,C) . head^T + b
		m.be.MatmulBackward(a.dln, m.g.headw, m.g.headb, a.logits, a.lnf, m.p.headw, N, C, V)
	}
	m.backwardFromHidden()
	m.haveDLogit = false
	return nil
}

// BackwardHidden accumulates into the gradients the backward pass of the
// last Forward from dhidden (B*T, C), the gradient of a loss with respect
// to Hidden (for classification heads built outside the model).
func (m *Model) BackwardHidden(dhidden compute.F32) error {
	if err := m.checkBackward(); err != nil {
		return err
	}
	if dhidden.N != m.acts.dln.N {
		return fmt.Errorf("backward: hidden gradient has %d values, want %d", dhidden.N, m.acts.dln.N)
	}
	m.be.Copy(m.acts.dln, dhidden)
	m.backwardFromHidden()
	return nil
}

func (m *Model) checkBackward() error {
	if m.grads.N == 0 {
		return errors.New("backward: training not enabled (call EnableTraining before Forward)")
	}
	if m.acts == nil || m.acts.dres.N == 0 {
		return errors.New("backward: no forward pass with training enabled")
	}
	return nil
}

// backwardFromHidden runs the backward pass from a.dln = dloss/dHidden.
func (m *Model) backwardFromHidden() {
	be, p, g, a := m.be, m.p, m.g, m.acts
	B, T, C, H := a.B, a.T, m.Cfg.DModel, m.Cfg.NHeads
	N := B * T
	none := compute.F32{}
	mask := compute.I32{}
	if m.hasMask {
		mask = a.keyMask
	}
	last := a.encoded
	if n := len(a.blocks); n > 0 {
		last = a.blocks[n-1].resOut
	}
	ca := a.cond
	if ca != nil {
		// lnf = lnfn * (1 + scale) + shift: dln becomes d lnfn in place,
		// and the final adaLN's gradient goes to dc.
		be.Zero(ca.dc)
		dmodf := ca.dmod.Slice(0, 2*B*C)
		be.Zero(dmodf)
		be.ModulateBackward(a.dln, chunk(dmodf, 0, B, C, 2*C), chunk(dmodf, 1, B, C, 2*C), a.dln, ca.lnfn, chunk(ca.modf, 1, B, C, 2*C), B, T, C, 2*C)
		be.MatmulBackward(ca.dc, g.finw, g.finb, dmodf, ca.c, p.finw, B, C, 2*C)
	}
	// final_ln; dres is the gradient of the residual stream from here on.
	be.Zero(a.dres)
	be.LayerNormBackward(a.dres, g.lnfw, g.lnfb, a.dln, last, p.lnfw, a.lnfMean, a.lnfRstd, N, C)
	for l := len(a.blocks) - 1; l >= 0; l-- {
		w, gw, b := p.blocks[l], g.blocks[l], &a.blocks[l]
		x := a.encoded
		if l > 0 {
			x = a.blocks[l-1].resOut
		}
		if ca != nil {
			m.backwardBlockCond(l, x, mask)
			continue
		}
		// MLP branch (resOut = resMid + fc2(gelu(fc1(ln2(resMid))))): the
		// residual passes dres through unchanged; the branch adds to it.
		be.Zero(a.dfc)
		be.MatmulBackward(a.dfc, gw.fc2w, gw.fc2b, a.dres, b.gelu, w.fc2w, N, 4*C, C)
		be.GeluBackward(a.dfc, b.fc1, a.dfc, N*4*C)
		be.Zero(a.dln)
		be.MatmulBackward(a.dln, gw.fc1w, gw.fc1b, a.dfc, b.ln2, w.fc1w, N, C, 4*C)
		be.LayerNormBackward(a.dres, gw.ln2w, gw.ln2b, a.dln, b.resMid, w.ln2w, b.ln2Mean, b.ln2Rstd, N, C)
		// attention branch (resMid = x + out(Attn(rope(ln1(x))))).
		be.Zero(a.datty)
		be.MatmulBackward(a.datty, gw.outw, none, a.dres, b.atty, w.outw, N, C, C)
		be.AttentionBackward(a.dqkv, a.datty, b.qkv, b.atty, b.lse, mask, B, T, C, H, m.causal)
		be.RotaryBackward(a.dqkv, B, T, C, H, 0)
		be.Zero(a.dln)
		be.MatmulBackward(a.dln, gw.qkvw, none, a.dqkv, b.ln1, w.qkvw, N, C, 3*C)
		be.LayerNormBackward(a.dres, gw.ln1w, gw.ln1b, a.dln, x, w.ln1w, b.ln1Mean, b.ln1Rstd, N, C)
	}
	be.EmbeddingBackward(g.embed, a.dres, a.tokens, N, C)
	if ca != nil {
		// c = silu(te2), te2 = mlp.2(silu(te1)), te1 = mlp.0(freq); t itself takes no gradient.
		be.SiluBackward(ca.dte, ca.te2, ca.dc, B*C)
		be.Zero(ca.dc) // reused as the gradient of silu(te1)
		be.MatmulBackward(ca.dc, g.te2w, g.te2b, ca.dte, ca.te1s, p.te2w, B, C, C)
		be.SiluBackward(ca.dte, ca.te1, ca.dc, B*C)
		be.MatmulBackward(none, g.te1w, g.te1b, ca.dte, ca.freq, p.te1w, B, TimeFreqDim, C)
	}
}

// backwardBlockCond is the backward of forwardBlockCond for block l (input
// x): a.dres holds the gradient of resOut on entry and of x on return; the
// block's adaLN gradient is added to the conditioning's (cond.dc).
func (m *Model) backwardBlockCond(l int, x compute.F32, mask compute.I32) {
	be, p, g, a := m.be, m.p, m.g, m.acts
	w, gw, b, ca := p.blocks[l], g.blocks[l], &a.blocks[l], a.cond
	B, T, C, H := a.B, a.T, m.Cfg.DModel, m.Cfg.NHeads
	N, S := B*T, 6*C
	none := compute.F32{}
	dm := func(k int) compute.F32 { return chunk(ca.dmod, k, B, C, S) }
	md := func(k int) compute.F32 { return chunk(b.mod, k, B, C, S) }
	be.Zero(ca.dmod)
	// MLP branch: resOut = resMid + gate2 * mlpProj; dres passes through.
	be.GateBackward(ca.dproj, dm(5), a.dres, b.mlpProj, md(5), B, T, C, S)
	be.Zero(a.dfc)
	be.MatmulBackward(a.dfc, gw.fc2w, gw.fc2b, ca.dproj, b.gelu, w.fc2w, N, 4*C, C)
	be.GeluBackward(a.dfc, b.fc1, a.dfc, N*4*C)
	be.Zero(a.dln)
	be.MatmulBackward(a.dln, gw.fc1w, gw.fc1b, a.dfc, b.ln2, w.fc1w, N, C, 4*C)
	be.ModulateBackward(a.dln, dm(3), dm(4), a.dln, b.ln2n, md(4), B, T, C, S)
	be.LayerNormBackward(a.dres, gw.ln2w, gw.ln2b, a.dln, b.resMid, w.ln2w, b.ln2Mean, b.ln2Rstd, N, C)
	// attention branch: resMid = x + gate1 * attnProj.
	be.GateBackward(ca.dproj, dm(2), a.dres, b.attnProj, md(2), B, T, C, S)
	be.Zero(a.datty)
	be.MatmulBackward(a.datty, gw.outw, none, ca.dproj, b.atty, w.outw, N, C, C)
	be.AttentionBackward(a.dqkv, a.datty, b.qkv, b.atty, b.lse, mask, B, T, C, H, m.causal)
	be.RotaryBackward(a.dqkv, B, T, C, H, 0)
	be.Zero(a.dln)
	be.MatmulBackward(a.dln, gw.qkvw, none, a.dqkv, b.ln1, w.qkvw, N, C, 3*C)
	be.ModulateBackward(a.dln, dm(0), dm(1), a.dln, b.ln1n, md(1), B, T, C, S)
	be.LayerNormBackward(a.dres, gw.ln1w, gw.ln1b, a.dln, x, w.ln1w, b.ln1Mean, b.ln1Rstd, N, C)
	// mod (B,6C) = adaLN_modulation(c)
	be.MatmulBackward(ca.dc, gw.adaw, gw.adab, ca.dmod, ca.c, w.adaw, B, C, S)
}
