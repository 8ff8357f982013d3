package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/seqdiff/seqdiff/ar"
	"github.com/seqdiff/seqdiff/compute/cpu"
	"github.com/seqdiff/seqdiff/vocab"
)

// TestDecoderMatchesForward: the logits of step-by-step KV-cache decoding
// equal the full causal forward's at every position (within 1e-5 relative
// to the logits' scale), also after a Reset that reuses the cache.
func TestDecoderMatchesForward(t *testing.T) {
	cfg := DefaultConfig(12, 32, 2, 4, 24, ModeAR)
	m, err := New(cpu.New(2), cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.Init(7)
	B, T, V := 3, 24, cfg.VocabSize
	r := rand.New(rand.NewPCG(1, 2))
	tok := make([]int32, B*T)
	for i := range tok {
		tok[i] = 7 + int32(r.IntN(5))
	}
	if err := m.Forward(tok, nil, B, T, true); err != nil {
		t.Fatal(err)
	}
	full, err := m.LogitsHost()
	if err != nil {
		t.Fatal(err)
	}
	scale := 0.0
	for _, v := range full {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	d := NewDecoder(m)
	defer d.Free()
	out := make([]float32, B*V)
	for round := 0; round < 2; round++ {
		if err := d.Reset(B); err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for i := 0; i < T; i++ {
			col := make([]int32, B)
			for b := range col {
				col[b] = tok[b*T+i]
			}
			if err := d.Step(col, out); err != nil {
				t.Fatal(err)
			}
			for b := 0; b < B; b++ {
				for v := 0; v < V; v++ {
					worst = math.Max(worst, math.Abs(float64(out[b*V+v]-full[(b*T+i)*V+v])))
				}
			}
		}
		if worst > 1e-5*scale {
			t.Fatalf("round %d: decoder logits differ from the causal forward by %g (scale %g)", round, worst, scale)
		}
	}
	if err := d.Step(make([]int32, B), out); err == nil {
		t.Fatal("a step past seq_len was accepted")
	}
}

// TestDecoderSlidingWindow: ar.Sampler over the Decoder past seq_len
// (greedy, so every token is the argmax of its logits) gives, at every
// position, the argmax of the full causal forward over the window that
// the sampler keeps: the last Keep tokens after each slide, growing to
// seq_len before the next.
func TestDecoderSlidingWindow(t *testing.T) {
	cfg := DefaultConfig(12, 32, 2, 4, 8, ModeAR)
	m, err := New(cpu.New(2), cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.SetParams(perturbedParams(cfg, 21))
	const B, P, n, keep = 2, 3, 27, 3
	s, err := ar.NewSampler(vocab.DNA(), ar.SampleConfig{TopK: 1, Keep: keep})
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecoder(m)
	defer d.Free()
	rows, err := s.Sample(d, []int32{7, 8, 9, 10, 10, 7}, B, P, n)
	if err != nil {
		t.Fatal(err)
	}
	if s.Slides() < 3 {
		t.Fatalf("%d slides for %d tokens over a context of %d", s.Slides(), P+n, cfg.SeqLen)
	}
	W, V := P+n, cfg.VocabSize
	fed, start := 0, 0
	for pos := 0; pos < W-1; pos++ {
		if fed == cfg.SeqLen {
			start, fed = pos-keep+1, keep-1
		}
		fed++
		if pos+1 < P {
			continue
		}
		T := pos - start + 1
		win := make([]int32, 0, B*T)
		for b := 0; b < B; b++ {
			win = append(win, rows[b*W+start:b*W+pos+1]...)
		}
		if err := m.Forward(win, nil, B, T, true); err != nil {
			t.Fatal(err)
		}
		logits, _ := m.LogitsHost()
		for b := 0; b < B; b++ {
			row := logits[(b*T+T-1)*V : (b*T+T)*V]
			best, scale := int32(7), 0.0
			for id := int32(7); id <= 11; id++ { // the samplable DNA ids
				if row[id] > row[best] {
					best = id
				}
				scale = math.Max(scale, math.Abs(float64(row[id])))
			}
			// The sampler took the argmax of the decoder's logits (one
			// position of B rows a step), not of this forward's (B x T rows),
			// and the two may round apart: a near-tie may go either way, so
			// the sampled id's logit need only be within 1e-5 of the scale
			// of the best one's.
			if got := rows[b*W+pos+1]; got < 7 || got > 11 || float64(row[best]-row[got]) > 1e-5*scale {
				t.Fatalf("row %d position %d: sampled %d, the forward over [%d, %d] gives %d", b, pos+1, got, start, pos, best)
			}
		}
	}
}

// TestDecoderPrefill: prefilling P tokens gives the logits of P steps, and
// the steps after it the same logits as after stepping.
func TestDecoderPrefill(t *testing.T) {
	cfg := DefaultConfig(12, 32, 2, 4, 16, ModeAR)
	m, err := New(cpu.New(2), cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.SetParams(perturbedParams(cfg, 22))
	const B, P, extra = 2, 6, 5
	V := cfg.VocabSize
	tok := tinyBatch(B, P+extra, 23)
	col := func(i int) []int32 { return []int32{tok[i], tok[(P+extra)+i]} }
	run := func(prefill bool) [][]float32 {
		d := NewDecoder(m)
		defer d.Free()
		if err := d.Reset(B); err != nil {
			t.Fatal(err)
		}
		var outs [][]float32
		out := make([]float32, B*V)
		if prefill {
			block := append(append([]int32{}, tok[:P]...), tok[P+extra:P+extra+P]...)
			if err := d.Prefill(block, P, out); err != nil {
				t.Fatal(err)
			}
			if d.Pos() != P {
				t.Fatalf("position %d after a prefill of %d", d.Pos(), P)
			}
			if err := d.Prefill(block, P, out); err == nil {
				t.Fatal("prefill into a non-empty cache accepted")
			}
		} else {
			for i := 0; i < P; i++ {
				if err := d.Step(col(i), out); err != nil {
					t.Fatal(err)
				}
			}
		}
		outs = append(outs, append([]float32(nil), out...))
		for i := P; i < P+extra; i++ {
			if err := d.Step(col(i), out); err != nil {
				t.Fatal(err)
			}
			outs = append(outs, append([]float32(nil), out...))
		}
		return outs
	}
	a, b := run(false), run(true)
	for i := range a {
		for j := range a[i] {
			if math.Abs(float64(a[i][j]-b[i][j])) > 1e-4 {
				t.Fatalf("output %d logit %d: stepped %v, prefilled %v", i, j, a[i][j], b[i][j])
			}
		}
	}
}
