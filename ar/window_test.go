package ar

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/seqdiff/seqdiff/vocab"
)

// windowStep is a Bounded StepModel of capacity cap that records what its
// cache holds: every Step appends to the current window, which must never
// outgrow cap, and every Reset starts a new one. Its logits are those of
// the Markov chain on the last token, so its output does not depend on
// anything before that token.
type windowStep struct {
	markovStep
	cap     int
	windows [][][]int32 // per Reset: the token columns fed
	err     bool
}

func (w *windowStep) Capacity() int { return w.cap }
func (w *windowStep) Reset(B int) error {
	w.windows = append(w.windows, nil)
	return w.markovStep.Reset(B)
}
func (w *windowStep) Step(tokens []int32, out []float32) error {
	cur := &w.windows[len(w.windows)-1]
	*cur = append(*cur, slices.Clone(tokens))
	if len(*cur) > w.cap {
		w.err = true
	}
	return w.markovStep.Step(tokens, out)
}

// prefillStep is windowStep that also prefills: P columns at once into an
// empty window, the logits those of the last one.
type prefillStep struct {
	windowStep
	prefills int
}

func (p *prefillStep) Prefill(tokens []int32, P int, out []float32) error {
	cur := &p.windows[len(p.windows)-1]
	if len(*cur) != 0 {
		p.err = true
	}
	B := len(tokens) / P
	last := make([]int32, B)
	for j := 0; j < P; j++ {
		col := make([]int32, B)
		for b := range col {
			col[b] = tokens[b*P+j]
		}
		*cur = append(*cur, col)
		copy(last, col)
	}
	if len(*cur) > p.cap {
		p.err = true
	}
	p.prefills++
	return p.markovStep.Step(last, out)
}

// TestSampleSlidingWindow: past the capacity the cache is refilled with
// the last Keep tokens before each further draw and never overflows; the
// rows equal those of an unbounded model (this model looks at the last
// token only, and the random draws happen at the same positions); the
// step count is W-1 plus Keep-1 per slide.
func TestSampleSlidingWindow(t *testing.T) {
	v := vocab.DNA()
	c := newChain(rand.New(rand.NewPCG(31, 31)))
	const B, P, n = 2, 3, 40
	prompt := []int32{7, 8, 9, 10, 9, 8}
	ref, _ := NewSampler(v, SampleConfig{Seed: 5})
	want, err := ref.Sample(&markovStep{c: c, V: v.Size}, prompt, B, P, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ cap, keep int }{{8, 0}, {8, 3}, {5, 5}, {2, 1}, {64, 0}} {
		for _, withPrefill := range []bool{false, true} {
			s, _ := NewSampler(v, SampleConfig{Seed: 5, Keep: tc.keep})
			pm := &prefillStep{windowStep: windowStep{markovStep: markovStep{c: c, V: v.Size}, cap: tc.cap}}
			m := &pm.windowStep
			var sm StepModel = m
			if withPrefill {
				sm = pm
			}
			got, err := s.Sample(sm, prompt, B, P, n)
			if err != nil {
				t.Fatalf("cap %d keep %d: %v", tc.cap, tc.keep, err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("cap %d keep %d: rows differ from the unbounded sampler's", tc.cap, tc.keep)
			}
			if m.err {
				t.Fatalf("cap %d keep %d: the cache outgrew its capacity", tc.cap, tc.keep)
			}
			keep := tc.keep
			if keep == 0 {
				keep = tc.cap / 2
			}
			W := P + n
			// Every window after the first holds the keep tokens ending at the
			// position fed last before the draw: it starts keep-1 before the
			// position where the previous window ran full.
			start := 0
			for i, win := range m.windows {
				if i > 0 {
					start = start + len(m.windows[i-1]) - (keep - 1)
				}
				for j, col := range win {
					for b := 0; b < B; b++ {
						if col[b] != got[b*W+start+j] {
							t.Fatalf("cap %d keep %d: window %d step %d row %d fed %d, want %d (position %d)", tc.cap, tc.keep, i, j, b, col[b], got[b*W+start+j], start+j)
						}
					}
				}
				if i > 0 && i < len(m.windows)-1 && len(win) != tc.cap {
					t.Fatalf("cap %d keep %d: window %d holds %d positions, want a full %d", tc.cap, tc.keep, i, len(win), tc.cap)
				}
			}
			if s.Slides() != len(m.windows)-1 || s.Steps() != W-1+s.Slides()*(keep-1) {
				t.Fatalf("cap %d keep %d: %d slides over %d windows, %d steps", tc.cap, tc.keep, s.Slides(), len(m.windows), s.Steps())
			}
			if tc.cap < W-1 && s.Slides() == 0 {
				t.Fatalf("cap %d: no slide for %d positions", tc.cap, W-1)
			}
			if withPrefill && pm.prefills != 1+s.Slides() {
				t.Fatalf("cap %d keep %d: %d prefills for the prompt and %d slides", tc.cap, tc.keep, pm.prefills, s.Slides())
			}
		}
	}
	s, _ := NewSampler(v, SampleConfig{Keep: 9})
	if _, err := s.Sample(&windowStep{markovStep: markovStep{c: c, V: v.Size}, cap: 8}, prompt, B, P, n); err == nil {
		t.Fatal("keep 9 over capacity 8 accepted")
	}
	if _, err := NewSampler(v, SampleConfig{Keep: -1}); err == nil {
		t.Fatal("negative keep accepted")
	}
}
