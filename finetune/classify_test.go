package finetune

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/compute/cpu"
	"github.com/seqdiff/seqdiff/nn"
)

// tinyCkpt saves a freshly initialised tiny model of mode as a checkpoint.
func tinyCkpt(t *testing.T, mode string, d, layers, L int) string {
	t.Helper()
	be := cpu.New(2)
	m, err := nn.New(be, nn.DefaultConfig(12, d, layers, 2, L, mode))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	m.Init(7)
	dir := filepath.Join(t.TempDir(), "ckpt-"+mode)
	if err := nn.Snapshot(m, nil, nil).Save(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func loadTiny(t *testing.T, dir string) *nn.Model {
	t.Helper()
	m, _, _, err := nn.LoadModel(cpu.New(2), dir, false)
	if err != nil {
		t.Fatal(err)
	}
	m.EnableTraining()
	return m
}

// TestClassifierGradient checks the head, pool and backbone gradients of
// the classification loss against central finite differences (float64
// accumulation of a float32 model: a loose relative tolerance), for both
// attentions and rows with padding.
func TestClassifierGradient(t *testing.T) {
	for _, run := range []struct{ mode, head string }{{nn.ModeMDLM, HeadMean}, {nn.ModeAR, HeadMean}, {nn.ModeMDLM, HeadCentre}, {nn.ModeMDLM, HeadFlat}, {nn.ModeAR, HeadFlat}, {nn.ModeMDLM, HeadConv}} {
		mode := run.mode + "/" + run.head
		m := loadTiny(t, tinyCkpt(t, run.mode, 16, 1, 12))
		const B, T = 3, 12
		c, err := NewClassifier(m, run.head, 3, T, m.Cfg.Causal(), 1)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(1, 2))
		for i := range c.W {
			c.W[i] = float32(r.NormFloat64() * 0.5)
		}
		ex := []Example{{Seq: []uint8{7, 8, 9, 10, 7, 7, 8, 9, 10, 10, 9, 8}, Label: 0}, {Seq: []uint8{9, 9, 10, 7}, Label: 2}, {Seq: []uint8{8, 10, 7, 9, 8, 11, 7}, Label: 1}}
		tok, mask := make([]int32, B*T), make([]int32, B*T)
		Pack(ex, T, m.Cfg.PadID, nil, tok, mask)
		ys := []int{0, 2, 1}
		loss := func() float64 {
			if _, err := c.Forward(tok, mask, B); err != nil {
				t.Fatal(err)
			}
			l, err := c.Loss(ys, false)
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		loss()
		if _, err := c.Loss(ys, true); err != nil {
			t.Fatal(err)
		}
		grads := make([]float32, m.NumParams())
		m.Backend().Download(grads, m.Grads())
		const h = 1e-2
		check := func(name string, p *float32, analytic float32) {
			old := *p
			*p = old + h
			up := loss()
			*p = old - h
			dn := loss()
			*p = old
			num := (up - dn) / (2 * h)
			if d := math.Abs(num - float64(analytic)); d > 2e-3+0.05*math.Abs(num) {
				t.Errorf("%s %s: analytic %.6g, numeric %.6g", mode, name, analytic, num)
			}
		}
		for _, i := range []int{0, 5, 17, 40, len(c.W) - 30} {
			check("head W", &c.W[i], c.gW[i])
		}
		check("head b", &c.Bias[1], c.gB[1])
		if c.U != nil {
			for _, i := range []int{0, 77, len(c.U) - 5} {
				check("head U", &c.U[i], c.gU[i])
			}
			check("head c", &c.Ub[3], c.gUb[3])
		}
		params := m.ParamsHost()
		for _, tn := range m.Table {
			if tn.Name != "embed.weight" && tn.Name != "blocks.0.mlp.fc1.weight" && tn.Name != "blocks.0.attn.qkv.weight" {
				continue
			}
			for _, k := range []int{tn.Offset + 7*16 + 3, tn.Offset + 9*16 + 1, tn.Offset + 5} {
				old := params[k]
				set := func(v float32) float64 {
					params[k] = v
					if err := m.SetParams(params); err != nil {
						t.Fatal(err)
					}
					return loss()
				}
				const hb = 1e-3 // the weights are ~0.02: a smaller step stays linear
				up, dn := set(old+hb), set(old-hb)
				set(old)
				num := (up - dn) / (2 * hb)
				if d := math.Abs(num - float64(grads[k])); d > 2e-3+0.05*math.Abs(num) {
					t.Errorf("%s %s[%d]: analytic %.6g, numeric %.6g", mode, tn.Name, k-tn.Offset, grads[k], num)
				}
			}
		}
		c.Free()
		m.Free()
	}
}

// TestPaddingIsInvisible: a row's logits do not depend on how much padding
// follows it, nor on what the padded positions hold (the pooled heads,
// whose weights do not depend on T).
func TestPaddingIsInvisible(t *testing.T) {
	for _, run := range []struct{ mode, head string }{{nn.ModeMDLM, HeadMean}, {nn.ModeAR, HeadMean}, {nn.ModeMDLM, HeadCentre}, {nn.ModeMDLM, HeadConv}} {
		mode := run.mode + "/" + run.head
		dir := tinyCkpt(t, run.mode, 16, 2, 32)
		seq := Example{Seq: []uint8{7, 8, 9, 10, 10, 9, 8, 7, 11, 7}}
		var ref []float32
		for _, T := range []int{10, 16, 32} {
			m := loadTiny(t, dir)
			c, err := NewClassifier(m, run.head, 2, T, m.Cfg.Causal(), 1)
			if err != nil {
				t.Fatal(err)
			}
			tok, mask := make([]int32, T), make([]int32, T)
			Pack([]Example{seq}, T, m.Cfg.PadID, nil, tok, mask)
			for i := len(seq.Seq); i < T; i++ {
				tok[i] = int32(7 + i%4) // garbage under the mask
			}
			z, err := c.Forward(tok, mask, 1)
			if err != nil {
				t.Fatal(err)
			}
			if ref == nil {
				ref = append([]float32(nil), z...)
			} else {
				for k := range z {
					if math.Abs(float64(z[k]-ref[k])) > 1e-5 {
						t.Fatalf("%s: T %d logits %v, unpadded %v", mode, T, z, ref)
					}
				}
			}
			c.Free()
			m.Free()
		}
	}
}

func TestPackCropAndRC(t *testing.T) {
	ex := []Example{{Seq: []uint8{7, 7, 8, 9, 10, 10, 10}}, {Seq: []uint8{7, 8}}}
	tok, mask := make([]int32, 8), make([]int32, 8)
	Pack(ex, 4, 4, []bool{false, true}, tok, mask)
	want := []int32{7, 8, 9, 10, 9, 10, 4, 4} // centre crop start (7-4)/2 = 1; RC of AC = GT
	wantM := []int32{1, 1, 1, 1, 1, 1, 0, 0}
	for i := range tok {
		if tok[i] != want[i] || mask[i] != wantM[i] {
			t.Fatalf("tokens %v mask %v, want %v %v", tok, mask, want, wantM)
		}
	}
}

// separable is a task a tiny model must learn: class 0 rows draw from
// {A, T}, class 1 rows from {C, G} (both closed under reverse complement),
// random lengths 20..40.
func separable(n int, seed uint64) []Example {
	r := rand.New(rand.NewPCG(seed, 9))
	out := make([]Example, n)
	for i := range out {
		y := i % 2
		s := make([]uint8, 20+r.IntN(21))
		for j := range s {
			s[j] = [2][2]uint8{{7, 10}, {8, 9}}[y][r.IntN(2)]
		}
		out[i] = Example{Seq: s, Label: y}
	}
	return out
}

// TestLearnsSeparableTaskAndResultsShape fine-tunes a random tiny backbone
// on a trivially separable task (both attentions) and checks the scores
// and the results.json layout.
func TestLearnsSeparableTaskAndResultsShape(t *testing.T) {
	for _, mode := range []string{nn.ModeMDLM, nn.ModeAR} {
		dir := tinyCkpt(t, mode, 16, 1, 32)
		task := &Task{Name: "sep", Classes: []string{"AT", "CG"}, Train: separable(200, 1), Test: separable(60, 2), Split: "given"}
		res, err := Run(context.Background(), cpu.New(2), task, Options{From: dir, Seeds: []uint64{1, 2}, Batch: 16, LRs: []float64{1e-3}, Epochs: 6, Patience: 3, RC: true})
		if err != nil {
			t.Fatal(err)
		}
		if res.Accuracy.Min < 0.9 {
			t.Fatalf("%s: accuracy %+v, want > 0.9 on a separable task", mode, res.Accuracy)
		}
		wantAtt := map[string]string{nn.ModeMDLM: "bidirectional", nn.ModeAR: "causal"}[mode]
		if res.Attention != wantAtt || res.Mode != mode || res.SeqLen != 32 {
			t.Fatalf("%s: attention %s mode %s seq_len %d", mode, res.Attention, res.Mode, res.SeqLen)
		}
		p := filepath.Join(t.TempDir(), "results.json")
		if err := res.WriteJSON(p); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		var j map[string]any
		if err := json.Unmarshal(b, &j); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"task", "seeds", "accuracy", "mcc", "f1", "per_seed", "checkpoint", "mode", "split", "crop"} {
			if _, ok := j[k]; !ok {
				t.Fatalf("results.json lacks %q: %s", k, b)
			}
		}
		for _, k := range []string{"accuracy", "mcc", "f1"} {
			s := j[k].(map[string]any)
			for _, f := range []string{"mean", "min", "max", "std"} {
				if _, ok := s[f].(float64); !ok {
					t.Fatalf("results.json %s lacks %s: %s", k, f, b)
				}
			}
		}
		if ps := j["per_seed"].([]any); len(ps) != 2 || len(j["seeds"].([]any)) != 2 {
			t.Fatalf("per_seed %v", ps)
		}
		if r2, err := ReadResults(p); err != nil || r2.Accuracy != res.Accuracy {
			t.Fatalf("read back: %v %+v", err, r2)
		}
	}
}

// positional is an aligned task that only position decides: random bases,
// with a C (class 0) or a G (class 1) at position 10 of 24.
func positional(n int, seed uint64) []Example {
	r := rand.New(rand.NewPCG(seed, 10))
	out := make([]Example, n)
	for i := range out {
		s := make([]uint8, 24)
		for j := range s {
			s[j] = uint8(7 + r.IntN(4))
		}
		y := i % 2
		s[10] = uint8(8 + y)
		out[i] = Example{Seq: s, Label: y}
	}
	return out
}

// TestGridChoosesOnValidLoss: on a fixed-length task the default grid
// tries both heads at both learning rates per seed, records every trial,
// keeps the lowest valid loss, and the flat head learns a task decided by
// one position from a random init.
func TestGridChoosesOnValidLoss(t *testing.T) {
	dir := tinyCkpt(t, nn.ModeMDLM, 16, 1, 32)
	task := &Task{Name: "pos", Classes: []string{"C", "G"}, Train: positional(300, 1), Test: positional(100, 2), Split: "given"}
	res, err := Run(context.Background(), cpu.New(2), task, Options{From: dir, Seeds: []uint64{1}, Batch: 16, Epochs: 8})
	if err != nil {
		t.Fatal(err)
	}
	sr := res.PerSeed[0]
	if len(sr.Grid) != len(DefaultHeads)*len(DefaultLRs) {
		t.Fatalf("grid %+v, want every head and lr", sr.Grid)
	}
	for _, g := range sr.Grid {
		if g.ValidLoss < sr.ValidLoss {
			t.Errorf("chose %s %g (valid loss %.4f) over %s %g (%.4f)", sr.Head, sr.LR, sr.ValidLoss, g.Head, g.LR, g.ValidLoss)
		}
	}
	if sr.Head != HeadFlat || sr.Accuracy < 0.9 {
		t.Errorf("chose %s %g, test accuracy %.3f; want the flat head above 0.9 on a one-position task (grid %+v)", sr.Head, sr.LR, sr.Accuracy, sr.Grid)
	}
	if err := AddBaselines(context.Background(), task, res, Options{}); err != nil {
		t.Fatal(err)
	}
	if len(res.Baselines) != 2 || res.Baselines[1].Mode != OneHotBaselineMode || res.Baselines[1].Accuracy.Mean < 0.95 {
		t.Fatalf("baselines %+v", res.Baselines)
	}
	if md := Markdown([]*Results{res}); !strings.Contains(md, "onehot") || !strings.Contains(md, "vs onehot") {
		t.Fatalf("markdown lacks the baseline rows or the comparison:\n%s", md)
	}
}
