package nn

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/compute/cpu"
	"github.com/seqdiff/seqdiff/mdlm"
	"github.com/seqdiff/seqdiff/vocab"
)

func tinyTimeConfig() Config {
	c := tinyConfig(ModeMDLM)
	c.TimeConditioning = true
	return c
}

// TestBackwardDirectionalTimeConditioned is TestBackwardDirectional with
// DiT adaLN on: every tensor's gradient, the time embedding and the
// per-block and final modulations included, against central differences.
// The perturbed parameters make the zero-initialised adaLN weights
// non-zero, so every gate and scale is exercised.
func TestBackwardDirectionalTimeConditioned(t *testing.T) {
	cfg := tinyTimeConfig()
	be := cpu.New(2)
	for _, gc := range gradCases() {
		if gc.causal {
			continue // time conditioning is for MDLM, which is bidirectional
		}
		t.Run(gc.name, func(t *testing.T) {
			m, err := New(be, cfg)
			if err != nil {
				t.Fatal(err)
			}
			m.EnableTraining()
			p0 := perturbedParams(cfg, 5)
			m.SetParams(p0)
			if gc.li.Time == nil {
				t.Fatal("MDLM loss inputs carry no times")
			}
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
			g := append([]float32(nil), m.Grads().Host...)
			rng := rand.New(rand.NewPCG(12, 0))
			p := make([]float32, len(p0))
			const h = 1e-2
			seen := 0
			for _, tn := range m.Table {
				if strings.Contains(tn.Name, "adaLN") || strings.HasPrefix(tn.Name, "time_embed") {
					seen++
				}
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
				if d := math.Abs(fd - gu); d > 2e-3+2e-2*math.Abs(gu) || gu == 0 {
					t.Errorf("%s: finite difference %.6g, backward %.6g", tn.Name, fd, gu)
				}
			}
			if want := 4 + 2*cfg.NLayers + 2; seen != want {
				t.Errorf("%d conditioning tensors, want %d", seen, want)
			}
		})
	}
}

// TestTimeConditioning: each row's logits depend on its own time only; a
// nil time is t = 0; at initialisation (adaLN-Zero) the blocks are the
// identity, so the output does not depend on t yet; the ParamTable grows
// by the conditioning tensors and keeps the backbone's initial values.
func TestTimeConditioning(t *testing.T) {
	cfg := tinyTimeConfig()
	be := cpu.New(2)
	m, err := New(be, cfg)
	if err != nil {
		t.Fatal(err)
	}
	const B, T = 2, 8
	x := tinyBatch(B, T, 6)
	logits := func(tt []float32) []float32 {
		t.Helper()
		if err := m.ForwardTime(x, nil, tt, B, T, false); err != nil {
			t.Fatal(err)
		}
		l, err := m.LogitsHost()
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	m.Init(3)
	a, b := logits([]float32{0.2, 0.9}), logits([]float32{0.7, 0.1})
	// Bit for bit here and below: one model and backend, the same shapes;
	// zero adaLN weights make the modulation exactly 0 whatever t, and a
	// row's logits depend on its own inputs only, in an order compute/cpu
	// fixes by the shapes and thread count.
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("zero-initialised adaLN: logit %d depends on t (%v vs %v)", i, a[i], b[i])
		}
	}
	m.SetParams(perturbedParams(cfg, 7))
	a = logits([]float32{0.2, 0.9})
	b = logits([]float32{0.2, 0.5}) // row 0 unchanged
	z := logits([]float32{0, 0})
	n := logits(nil)
	half := T * cfg.VocabSize
	for i := 0; i < half; i++ {
		if a[i] != b[i] {
			t.Fatalf("row 0 logit %d changed with row 1's time", i)
		}
	}
	diff := 0
	for i := half; i < 2*half; i++ {
		if a[i] != b[i] {
			diff++
		}
	}
	if diff == 0 {
		t.Fatal("row 1's logits ignore its time")
	}
	for i := range z {
		if z[i] != n[i] {
			t.Fatalf("nil time differs from t = 0 at logit %d", i)
		}
	}
	if err := m.ForwardTime(x, nil, []float32{0.5}, B, T, false); err == nil {
		t.Error("1 time for 2 rows accepted")
	}
	if err := m.ForwardTime(x, nil, []float32{0.5, float32(math.NaN())}, B, T, false); err == nil {
		t.Error("NaN time accepted")
	}
	if !(Denoiser{M: m}).TimeConditioned() {
		t.Error("Denoiser of a time-conditioned model says it is not")
	}

	plain := tinyConfig(ModeMDLM)
	pt, tt := ParamTable(plain), ParamTable(cfg)
	if len(tt) != len(pt)+4+2*cfg.NLayers+2 {
		t.Fatalf("table of %d tensors, plain %d", len(tt), len(pt))
	}
	p0, p1 := InitParams(plain, 9), InitParams(cfg, 9)
	for i, v := range p0 {
		if p1[i] != v {
			t.Fatalf("init value %d differs with time conditioning", i)
		}
	}
	ar := tinyConfig(ModeAR)
	ar.TimeConditioning = true
	if err := ar.Validate(); err == nil {
		t.Error("time conditioning accepted for an ar model")
	}
}

// TestTimeConditionedCheckpoint: the key round-trips through config.json
// and the tensors through model.safetensors; a plain model's config.json
// does not name the key, so checkpoints written before it load unchanged.
func TestTimeConditionedCheckpoint(t *testing.T) {
	cfg := tinyTimeConfig()
	dir := filepath.Join(t.TempDir(), "tc")
	p := perturbedParams(cfg, 8)
	if err := (&Checkpoint{Config: cfg, Params: p}).Save(dir); err != nil {
		t.Fatal(err)
	}
	m, _, _, err := LoadModel(cpu.New(1), dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Cfg.TimeConditioning {
		t.Fatal("time_conditioning lost in config.json")
	}
	for i, v := range m.ParamsHost() {
		if v != p[i] {
			t.Fatalf("param %d: %v after load, want %v", i, v, p[i])
		}
	}
	plainDir := filepath.Join(t.TempDir(), "plain")
	if err := (&Checkpoint{Config: tinyConfig(ModeMDLM), Params: InitParams(tinyConfig(ModeMDLM), 1)}).Save(plainDir); err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile(filepath.Join(plainDir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(js), "time_conditioning") {
		t.Errorf("plain config.json names time_conditioning:\n%s", js)
	}
}

// TestTimeConditionedSampling: over a real time-conditioned model the
// sampler passes each step's t (the output depends on it), ddpm_cache
// makes exactly ddpm's calls (no logits are reused), and semi-autoregressive
// generation runs past seq_len.
func TestTimeConditionedSampling(t *testing.T) {
	cfg := tinyTimeConfig() // seq_len 32
	m, err := New(cpu.New(2), cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.SetParams(perturbedParams(cfg, 9))
	v := vocab.DNA()
	calls := func(cache bool) int {
		s, err := mdlm.NewSampler(Denoiser{M: m}, v, mdlm.SampleConfig{Steps: 200, Cache: cache, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		z, _ := mdlm.Template(v, 8, nil, nil)
		if err := s.Sample(z, 1, 8); err != nil {
			t.Fatal(err)
		}
		return s.Calls()
	}
	if a, b := calls(false), calls(true); a != b || a < 100 {
		t.Fatalf("time-conditioned: ddpm %d calls, ddpm_cache %d; want equal (and near 200)", a, b)
	}
	z, _ := mdlm.Template(v, 8, []int32{7, 8}, nil)
	l1, l2 := make([]float32, 8*cfg.VocabSize), make([]float32, 8*cfg.VocabSize)
	if err := (Denoiser{M: m}).Logits(z, 1, 8, []float32{0.9}, l1); err != nil {
		t.Fatal(err)
	}
	if err := (Denoiser{M: m}).Logits(z, 1, 8, []float32{0.2}, l2); err != nil {
		t.Fatal(err)
	}
	if slices.Equal(l1, l2) {
		t.Fatal("Denoiser ignores t on a time-conditioned model")
	}
	s, _ := mdlm.NewSampler(Denoiser{M: m}, v, mdlm.SampleConfig{Steps: 10, Cache: true, Seed: 4})
	out, err := s.SampleLong([]int32{7, 8, 9, 10}, 1, 4, cfg.SeqLen, 80, 16)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 80 || out[0] != 7 || out[3] != 10 {
		t.Fatalf("semi-autoregressive output %v", out)
	}
	for i, id := range out {
		if id < 7 || id > 11 {
			t.Fatalf("position %d holds %d, not a base", i, id)
		}
	}
}
