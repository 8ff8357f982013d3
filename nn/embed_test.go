package nn

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/compute/cpu"
)

// embedSeqs are DNA rows of lengths 5, 8, 5, 8, 3, 8: three lengths, one
// of them more than a batch of 2.
func embedSeqs() [][]int32 {
	rng := rand.New(rand.NewPCG(4, 5))
	var seqs [][]int32
	for _, n := range []int{5, 8, 5, 8, 3, 8} {
		s := make([]int32, n)
		for i := range s {
			s[i] = 7 + int32(rng.IntN(5))
		}
		seqs = append(seqs, s)
	}
	return seqs
}

// forwardOne is HiddenLayer(layer) of seq run alone, as host (T,C).
func forwardOne(t *testing.T, m *Model, seq []int32, layer int) []float32 {
	t.Helper()
	if err := m.Forward(seq, nil, 1, len(seq), m.Cfg.Causal()); err != nil {
		t.Fatal(err)
	}
	h := make([]float32, len(seq)*m.Cfg.DModel)
	m.be.Download(h, m.HiddenLayer(layer))
	return h
}

func closeTo(a, b []float32, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !(math.Abs(float64(a[i])-float64(b[i])) <= tol) {
			return false
		}
	}
	return true
}

// TestEmbedMatchesForward: every layer, pooled or per position, of rows
// batched by length equals the same row's forward alone; the poolings
// agree with the per-position rows; layer 0 is the embedding table's row
// and the last layer is Hidden.
func TestEmbedMatchesForward(t *testing.T) {
	be := cpu.New(1)
	for _, cfg := range []Config{tinyConfig(ModeMDLM), tinyConfig(ModeAR), tinyTimeConfig()} {
		name := cfg.Mode
		if cfg.TimeConditioning {
			name += "-timecond"
		}
		t.Run(name, func(t *testing.T) {
			m, err := New(be, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Free()
			// Perturb every parameter so the adaLN weights (zero at init) act.
			p := InitParams(cfg, 7)
			rng := rand.New(rand.NewPCG(8, 9))
			for i := range p {
				p[i] += float32(0.05 * rng.NormFloat64())
			}
			if err := m.SetParams(p); err != nil {
				t.Fatal(err)
			}
			seqs := embedSeqs()
			C := cfg.DModel
			for layer := -1; layer <= cfg.NLayers; layer++ {
				l, _ := cfg.EmbedLayer(layer)
				per, err := m.Embed(seqs, EmbedOptions{Layer: layer, Batch: 2})
				if err != nil {
					t.Fatal(err)
				}
				pooled := map[string][][]float32{}
				for _, pool := range Pools {
					if pooled[pool], err = m.Embed(seqs, EmbedOptions{Layer: layer, Pool: pool, Batch: 2}); err != nil {
						t.Fatal(err)
					}
				}
				for i, s := range seqs {
					T := len(s)
					want := forwardOne(t, m, s, l)
					if !closeTo(per[i], want, 1e-5) {
						t.Fatalf("layer %d sequence %d: batched per-position states differ from its own forward", layer, i)
					}
					if l == cfg.NLayers {
						h := make([]float32, T*C)
						m.be.Download(h, m.Hidden())
						if !closeTo(want, h, 0) {
							t.Fatalf("layer %d is not Hidden", layer)
						}
					}
					if l == 0 {
						emb := p[:cfg.VocabSize*C] // embed.weight is the table's first tensor
						for pos, id := range s {
							if !closeTo(want[pos*C:(pos+1)*C], emb[int(id)*C:(int(id)+1)*C], 0) {
								t.Fatalf("layer 0 position %d is not the embedding of token %d", pos, id)
							}
						}
					}
					mean, mx, centre := make([]float32, C), make([]float32, C), make([]float32, C)
					for c := range C {
						s, hi := 0.0, math.Inf(-1)
						for pos := range T {
							v := float64(per[i][pos*C+c])
							s += v
							hi = math.Max(hi, v)
						}
						mean[c], mx[c] = float32(s/float64(T)), float32(hi)
						if T%2 == 1 {
							centre[c] = per[i][T/2*C+c]
						} else {
							centre[c] = (per[i][(T/2-1)*C+c] + per[i][T/2*C+c]) / 2
						}
					}
					for pool, w := range map[string][]float32{PoolMean: mean, PoolMax: mx, PoolCentre: centre, PoolLast: per[i][(T-1)*C:]} {
						if !closeTo(pooled[pool][i], w, 1e-6) {
							t.Fatalf("layer %d sequence %d: %s pool %v, want %v", layer, i, pool, pooled[pool][i][:3], w[:3])
						}
					}
				}
			}
		})
	}
}

// TestEmbedCausal: an ar model's state at a position does not depend on
// what follows it; a bidirectional model's does.
func TestEmbedCausal(t *testing.T) {
	be := cpu.New(1)
	for _, mode := range []string{ModeAR, ModeMDLM} {
		m, err := New(be, tinyConfig(mode))
		if err != nil {
			t.Fatal(err)
		}
		m.Init(3)
		a := []int32{7, 8, 9, 10, 7, 8}
		b := []int32{7, 8, 9, 10, 10, 10}
		h, err := m.Embed([][]int32{a, b}, EmbedOptions{Layer: -1})
		if err != nil {
			t.Fatal(err)
		}
		C := m.Cfg.DModel
		same := closeTo(h[0][:4*C], h[1][:4*C], 1e-6)
		if same != (mode == ModeAR) {
			t.Errorf("%s: the first 4 positions equal under another suffix: %v", mode, same)
		}
		m.Free()
	}
}

func TestEmbedErrors(t *testing.T) {
	m, err := New(cpu.New(1), tinyConfig(ModeMDLM)) // seq_len 32, 2 layers
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	m.Init(1)
	long := make([]int32, 33)
	for i := range long {
		long[i] = 7
	}
	for _, c := range []struct {
		seqs [][]int32
		o    EmbedOptions
		msg  string
	}{
		{[][]int32{{7}, long}, EmbedOptions{}, "sequence 1: length 33 exceeds the model's seq_len 32"},
		{[][]int32{{7}, {}}, EmbedOptions{}, "sequence 1 is empty"},
		{[][]int32{{7}}, EmbedOptions{Layer: 3}, "layer 3: the model has layers 0 (token embedding) to 2"},
		{[][]int32{{7}}, EmbedOptions{Layer: -4}, "layer -4"},
		{[][]int32{{7}}, EmbedOptions{Pool: "sum"}, `pool "sum"`},
		{[][]int32{{7, 99}}, EmbedOptions{}, "token 99 at row 0 position 1 outside vocabulary"},
	} {
		if _, err := m.Embed(c.seqs, c.o); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%+v: %v, want %q", c.o, err, c.msg)
		}
	}
	if out, err := m.Embed(nil, EmbedOptions{}); err != nil || len(out) != 0 {
		t.Errorf("no sequences: %v, %v", out, err)
	}
}
