package nn

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/seqdiff/seqdiff/compute/cpu"
	"github.com/seqdiff/seqdiff/vocab"
)

// gradCase is a tiny batch with a loss for the gradient checks.
type gradCase struct {
	name    string
	causal  bool
	keyMask []int32
	li      LossInputs
}

func tinyBatch(B, T int, seed uint64) []int32 {
	rng := rand.New(rand.NewPCG(seed, 9))
	x := make([]int32, B*T)
	for i := range x {
		x[i] = 7 + int32(rng.IntN(5))
	}
	return x
}

func gradCases() []gradCase {
	const B, T = 2, 8
	x0 := tinyBatch(B, T, 1)
	t := []float32{0.3, 0.8}
	masked := make([]uint8, B*T)
	for i := range masked {
		masked[i] = uint8(i % 3 % 2)
	}
	// Each case gets its own Objective: the inputs share its buffers.
	mdlm, _ := NewObjective(tinyConfig(ModeMDLM)).Masked(x0, B, T, t, masked)
	ar, _ := NewObjective(tinyConfig(ModeAR)).Inputs(tinyBatch(B, T+1, 2), B, T+1, nil)
	// Padding: the last 3 positions of row 1 are PAD keys and carry no loss.
	padX := slices.Clone(x0)
	keyMask := make([]int32, B*T)
	for i := range keyMask {
		keyMask[i] = 1
		if i >= 2*T-3 {
			keyMask[i], padX[i], masked[i] = 0, vocab.Pad, 0
		}
	}
	padded, _ := NewObjective(tinyConfig(ModeMDLM)).Masked(padX, B, T, t, masked)
	// AR with right padding in both rows: the inputs' last 2 positions are
	// PAD keys, and the targets from one before them on are PAD.
	arX := tinyBatch(B, T+1, 3)
	for i := range arX {
		if i%(T+1) >= T-2 {
			arX[i] = vocab.Pad
		}
	}
	arPad, _ := NewObjective(tinyConfig(ModeAR)).Inputs(arX, B, T+1, nil)
	arMask := make([]int32, B*T)
	for i := range arMask {
		arMask[i] = 1
		if i%T >= T-2 {
			arMask[i] = 0
		}
	}
	return []gradCase{
		{"bidirectional-mdlm", false, nil, mdlm},
		{"causal-ar", true, nil, ar},
		{"bidirectional-padmask", false, keyMask, padded},
		{"causal-padmask", true, arMask, arPad},
	}
}

// perturbedParams returns init params with larger, less symmetric values so
// that every gradient is well away from zero (LayerNorm gains != 1, biases
// != 0).
func perturbedParams(cfg Config, seed uint64) []float32 {
	p := InitParams(cfg, seed)
	rng := rand.New(rand.NewPCG(seed, 77))
	for i := range p {
		p[i] += float32(rng.NormFloat64() * 0.1)
	}
	return p
}

// TestBackwardDirectional checks the full backward pass against central
// finite differences of the float32 forward pass, one random direction per
// tensor (so every tensor's gradient is checked separately). With unit
// directions and step h = 1e-2, float32 round-off in the loss (~1e-6
// absolute) contributes ~1e-4 to the difference quotient and the O(h^2)
// truncation about as much, so we accept |fd - g.u| <= 2e-3 + 2e-2 |g.u|.
func TestBackwardDirectional(t *testing.T) {
	cfg := tinyConfig(ModeMDLM)
	be := cpu.New(2)
	for _, gc := range gradCases() {
		t.Run(gc.name, func(t *testing.T) {
			m, err := New(be, cfg)
			if err != nil {
				t.Fatal(err)
			}
			m.EnableTraining()
			p0 := perturbedParams(cfg, 4)
			m.SetParams(p0)
			gc.li.Causal = gc.causal
			loss := func() float64 {
				l, err := m.Loss(gc.li, gc.keyMask, false)
				if err != nil {
					t.Fatal(err)
				}
				return l
			}
			if _, err := m.Loss(gc.li, gc.keyMask, true); err != nil {
				t.Fatal(err)
			}
			m.ZeroGrad()
			if err := m.Backward(); err != nil {
				t.Fatal(err)
			}
			g := append([]float32(nil), m.Grads().Host...) // tests may read host memory
			rng := rand.New(rand.NewPCG(11, 0))
			p := make([]float32, len(p0))
			const h = 1e-2
			for _, tn := range m.Table {
				u := make([]float64, tn.Size)
				var norm float64
				for i := range u {
					u[i] = rng.NormFloat64()
					norm += u[i] * u[i]
				}
				var gu float64
				for i := range u {
					u[i] /= math.Sqrt(norm)
					gu += u[i] * float64(g[tn.Offset+i])
				}
				at := func(s float64) float64 {
					copy(p, p0)
					for i := range u {
						p[tn.Offset+i] = float32(float64(p0[tn.Offset+i]) + s*u[i])
					}
					m.SetParams(p)
					return loss()
				}
				fd := (at(h) - at(-h)) / (2 * h)
				if d := math.Abs(fd - gu); d > 2e-3+2e-2*math.Abs(gu) {
					t.Errorf("%s: finite difference %.6g, backward %.6g", tn.Name, fd, gu)
				}
			}
		})
	}
}

// TestPaddingIsInvisible: with a key mask, what sits at padded positions
// does not change the logits of valid positions.
func TestPaddingIsInvisible(t *testing.T) {
	cfg := tinyConfig(ModeMDLM)
	m, _ := New(cpu.New(2), cfg)
	m.Init(1)
	const B, T = 1, 8
	x := tinyBatch(B, T, 5)
	mask := []int32{1, 1, 1, 1, 1, 0, 0, 0}
	run := func() []float32 {
		if err := m.Forward(x, mask, B, T, false); err != nil {
			t.Fatal(err)
		}
		l, _ := m.LogitsHost()
		return l[:5*cfg.VocabSize]
	}
	a := run()
	x[6], x[7] = 10, 7
	b := run()
	// Bit for bit: the same shapes, thread count and BLAS (compute/cpu's
	// partition depends on those alone, and no kernel branches on values),
	// and a padded key gets probability exactly 0, adding exact zeros.
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("logit %d changed with padding content: %v vs %v", i, a[i], b[i])
		}
	}
	// And without the mask it does change.
	if err := m.Forward(x, nil, B, T, false); err != nil {
		t.Fatal(err)
	}
	c, _ := m.LogitsHost()
	if c[0] == b[0] {
		t.Fatal("unmasked forward ignores the padding content")
	}
}

func trainFew(t *testing.T, threads, steps int, ocfg AdamWConfig) (*Model, *Optimizer, []float64) {
	t.Helper()
	cfg := tinyConfig(ModeMDLM)
	m, err := New(cpu.New(threads), cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.Init(7)
	m.EnableTraining()
	opt := NewOptimizer(m, ocfg)
	rng := rand.New(rand.NewPCG(3, 3))
	const B, T = 4, 32
	x0 := tinyBatch(B, T, 8)
	var losses []float64
	obj := NewObjective(cfg)
	for s := 0; s < steps; s++ {
		li, err := obj.Inputs(x0, B, T, rng)
		if err != nil {
			t.Fatal(err)
		}
		l, err := m.Loss(li, nil, true)
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, l)
		m.ZeroGrad()
		if err := m.Backward(); err != nil {
			t.Fatal(err)
		}
		st, err := opt.Update(m, ocfg.LR)
		if err != nil || st.Skipped {
			t.Fatalf("step %d: %v %+v", s, err, st)
		}
	}
	return m, opt, losses
}

func TestTrainingDeterministicAndLearns(t *testing.T) {
	ocfg := DefaultAdamW()
	ocfg.LR, ocfg.EMADecay = 3e-3, 0.9
	a, _, la := trainFew(t, 2, 40, ocfg)
	b, _, _ := trainFew(t, 2, 40, ocfg)
	pa, pb := a.ParamsHost(), b.ParamsHost()
	// Bit for bit: the same inputs, shapes and thread count give
	// bit-identical results (compute/cpu's fixed partition and chunked sums).
	for i := range pa {
		if math.Float32bits(pa[i]) != math.Float32bits(pb[i]) {
			t.Fatalf("same seed and threads, weights differ at %d: %v vs %v", i, pa[i], pb[i])
		}
	}
	// One fixed batch over and over: the loss at a fixed t and mask must
	// fall well below its value at initialisation.
	const B, T = 4, 32
	x0 := tinyBatch(B, T, 8)
	masked := make([]uint8, B*T)
	for i := range masked {
		masked[i] = uint8(i % 2)
	}
	li, err := NewObjective(a.Cfg).Masked(x0, B, T, []float32{0.5, 0.5, 0.5, 0.5}, masked)
	if err != nil {
		t.Fatal(err)
	}
	after, err := a.Loss(li, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	fresh, _ := New(cpu.New(2), a.Cfg)
	fresh.Init(7)
	before, _ := fresh.Loss(li, nil, false)
	t.Logf("fixed-batch loss %.4f at init, %.4f after 40 steps", before, after)
	if !(after < 0.7*before) || len(la) != 40 {
		t.Fatalf("loss did not fall: %.4f at init, %.4f after 40 steps", before, after)
	}
}

func TestAdamWDecayClipNaNAndEMA(t *testing.T) {
	cfg := tinyConfig(ModeAR)
	m, _ := New(cpu.New(1), cfg)
	m.Init(2)
	m.EnableTraining()
	ocfg := AdamWConfig{LR: 0.1, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.5, ClipNorm: 1, EMADecay: 0.5}
	opt := NewOptimizer(m, ocfg)
	p0 := m.ParamsHost()
	// Zero gradients: only decoupled weight decay moves the weights, and
	// only those of decayed tensors.
	st, err := opt.Update(m, 0.1)
	if err != nil || st.Skipped || st.GradNorm != 0 {
		t.Fatalf("%+v %v", st, err)
	}
	p1 := m.ParamsHost()
	for _, tn := range m.Table {
		i := tn.Offset
		want := p0[i]
		if tn.Decay {
			want = p0[i] * (1 - 0.1*0.5)
		}
		if math.Abs(float64(p1[i]-want)) > 1e-7 {
			t.Errorf("%s: %v -> %v, want %v (decay %v)", tn.Name, p0[i], p1[i], want, tn.Decay)
		}
	}
	// EMA: 0.5*p0 + 0.5*p1
	ema := opt.EMA().Host
	if want := 0.5*p0[0] + 0.5*p1[0]; math.Abs(float64(ema[0]-want)) > 1e-7 {
		t.Errorf("ema %v want %v", ema[0], want)
	}
	// Clipping: a gradient of norm 10 is scaled to norm 1.
	g := m.Grads().Host
	g[0], g[1] = 6, 8
	st, _ = opt.Update(m, 0.1)
	if !st.Clipped || math.Abs(st.GradNorm-10) > 1e-9 {
		t.Fatalf("clip: %+v", st)
	}
	if math.Abs(float64(g[0])-0.6) > 1e-6 || math.Abs(float64(g[1])-0.8) > 1e-6 {
		t.Fatalf("clipped grads %v %v", g[0], g[1])
	}
	// NaN gradient: the step is skipped and nothing moves.
	before := m.ParamsHost()
	step := opt.Step
	g[5] = float32(math.NaN())
	st, err = opt.Update(m, 0.1)
	if err != nil || !st.Skipped || opt.Step != step {
		t.Fatalf("NaN step: %+v %v step %d", st, err, opt.Step)
	}
	after := m.ParamsHost()
	for i := range before {
		if math.Float32bits(before[i]) != math.Float32bits(after[i]) {
			t.Fatalf("NaN step moved weight %d", i)
		}
	}
	g[5] = float32(math.Inf(1))
	if st, _ = opt.Update(m, 0.1); !st.Skipped {
		t.Fatal("Inf gradient not skipped")
	}
}

func TestModelCheckpointRoundTrip(t *testing.T) {
	ocfg := DefaultAdamW()
	ocfg.EMADecay = 0.99
	m, opt, _ := trainFew(t, 2, 3, ocfg)
	dir := filepath.Join(t.TempDir(), "ck")
	if err := Snapshot(m, opt, map[string]any{"step": 3}).Save(dir); err != nil {
		t.Fatal(err)
	}
	x := tinyBatch(2, 16, 4)
	if err := m.Forward(x, nil, 2, 16, false); err != nil {
		t.Fatal(err)
	}
	want, _ := m.LogitsHost()
	m2, ck, _, err := LoadModel(cpu.New(2), dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Forward(x, nil, 2, 16, false); err != nil {
		t.Fatal(err)
	}
	got, _ := m2.LogitsHost()
	// Bit for bit: the same weights, shapes and thread count (cpu.New(2)
	// both), so compute/cpu repeats the same computation.
	for i := range want {
		if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
			t.Fatalf("logit %d: %v after load, %v before", i, got[i], want[i])
		}
	}
	m2.EnableTraining()
	opt2 := NewOptimizer(m2, ocfg)
	if err := ck.Restore(opt2); err != nil {
		t.Fatal(err)
	}
	if opt2.Step != 3 {
		t.Fatalf("restored step %d", opt2.Step)
	}
	for i, v := range opt.m.Host {
		if opt2.m.Host[i] != v || opt2.v.Host[i] != opt.v.Host[i] || opt2.ema.Host[i] != opt.ema.Host[i] {
			t.Fatalf("moment/EMA %d not restored", i)
		}
	}
}

func TestForwardRejectsBadInput(t *testing.T) {
	cfg := tinyConfig(ModeMDLM)
	m, _ := New(cpu.New(1), cfg)
	if err := m.Forward([]int32{1, 2, 12}, nil, 1, 3, false); err == nil {
		t.Fatal("token 12 accepted with vocab 12")
	}
	if err := m.Forward(make([]int32, 33), nil, 1, 33, false); err == nil {
		t.Fatal("length beyond seq_len accepted")
	}
	if err := m.Forward([]int32{7, 8, 9}, nil, 1, 3, false); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CrossEntropy([]int32{7, 8, 9}, nil, -100, -1, 0, false); err == nil {
		t.Fatal("zero normaliser accepted")
	}
	if err := m.Backward(); err == nil {
		t.Fatal("backward without training enabled")
	}
}

// TestBackwardHidden checks the gradient path from the final hidden state
// (for classification heads): loss = sum(R .* Hidden) with a fixed random
// R, so dloss/dHidden = R; the finite-difference check is as in
// TestBackwardDirectional, through the padding mask.
func TestBackwardHidden(t *testing.T) {
	cfg := tinyConfig(ModeMDLM)
	be := cpu.New(2)
	m, _ := New(be, cfg)
	m.EnableTraining()
	p0 := perturbedParams(cfg, 8)
	m.SetParams(p0)
	const B, T = 2, 8
	x := tinyBatch(B, T, 6)
	mask := make([]int32, B*T)
	for i := range mask {
		mask[i] = 1
		if i >= 2*T-2 {
			mask[i] = 0
		}
	}
	rng := rand.New(rand.NewPCG(2, 2))
	R := make([]float32, B*T*cfg.DModel)
	for i := range R {
		R[i] = float32(rng.NormFloat64())
	}
	loss := func() float64 {
		if err := m.Forward(x, mask, B, T, false); err != nil {
			t.Fatal(err)
		}
		h := make([]float32, len(R))
		be.Download(h, m.Hidden())
		var s float64
		for i := range h {
			s += float64(h[i]) * float64(R[i])
		}
		return s
	}
	loss()
	dh := be.Alloc(len(R))
	be.Upload(dh, R)
	m.ZeroGrad()
	if err := m.BackwardHidden(dh); err != nil {
		t.Fatal(err)
	}
	g := append([]float32(nil), m.Grads().Host...)
	p := make([]float32, len(p0))
	const h = 1e-2
	for _, name := range []string{"embed.weight", "blocks.0.attn.qkv.weight", "blocks.1.mlp.fc1.bias", "final_ln.weight"} {
		var tn Tensor
		for _, x := range m.Table {
			if x.Name == name {
				tn = x
			}
		}
		u := make([]float64, tn.Size)
		var norm, gu float64
		for i := range u {
			u[i] = rng.NormFloat64()
			norm += u[i] * u[i]
		}
		for i := range u {
			u[i] /= math.Sqrt(norm)
			gu += u[i] * float64(g[tn.Offset+i])
		}
		at := func(s float64) float64 {
			copy(p, p0)
			for i := range u {
				p[tn.Offset+i] = float32(float64(p0[tn.Offset+i]) + s*u[i])
			}
			m.SetParams(p)
			return loss()
		}
		fd := (at(h) - at(-h)) / (2 * h)
		t.Logf("%s: fd %.6g backward %.6g", name, fd, gu)
		// The loss is a sum over 16x16 hidden values of size ~1, so its
		// float32 round-off is ~1e-4: a looser absolute floor than the CE test.
		if d := math.Abs(fd - gu); d > 2e-2+2e-2*math.Abs(gu) {
			t.Errorf("%s: finite difference %.6g, backward %.6g", name, fd, gu)
		}
	}
}
