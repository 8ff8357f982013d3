package mdlm

import (
	"fmt"
	"math"
	"slices"
)

// Sampling methods (SampleConfig.Method).
const (
	// MethodDDPM is MDLM's ancestral sampler over Steps steps (with Cache,
	// ddpm_cache).
	MethodDDPM = "ddpm"
	// MethodFirstHitting is the first-hitting sampler (Zheng et al. 2024,
	// "Masked diffusion models are secretly time-agnostic masked models
	// and exploit inaccurate categorical sampling"): with n positions
	// masked at time t, the next reveal happens at the largest of n
	// independent reveal times, 1 - alpha(s) = (1 - alpha(t)) u^(1/n); one
	// masked position, uniform among them, is revealed there with a token
	// drawn from the model at s. It is ddpm in the limit of infinitely many
	// steps, exactly, with one model call per revealed token whatever the
	// number of steps. TokensPerStep k > 1 reveals k positions per call
	// from the same logits (k reveal times are drawn; the model sees the
	// first): k times fewer calls, no longer exact.
	MethodFirstHitting = "first_hitting"
	// MethodTopKConfidence is confidence-ordered parallel decoding
	// (MaskGIT; LLaDA's low-confidence remasking): at each of Steps model
	// calls a token is drawn for every masked position and the ones whose
	// drawn token has the highest probability are kept, as many as the
	// reveal schedule (RevealSchedule) asks for that call; the rest stay
	// masked. Not a sample of the model's joint: it favours confident
	// tokens, which is what makes few calls work, and on a weak model it
	// collapses into repeats (RESULTS.md). ConfidenceNoise ranks by
	// log-confidence plus annealed Gumbel noise instead, as MaskGIT does.
	MethodTopKConfidence = "topk_confidence"
)

// Reveal schedules of topk_confidence: the share of a row's positions
// still masked after call j of S.
const (
	RevealLinear = "linear" // 1 - j/S: the same number each call
	RevealCosine = "cosine" // cos(pi/2 j/S), MaskGIT's: few first, many last
)

// timeAt is the t in [0, 1] where 1 - alpha(t) = m, by bisection (alpha
// falls with t for every schedule).
func timeAt(sch Schedule, m float64) float64 {
	lo, hi := 0.0, 1.0
	for range 60 {
		mid := (lo + hi) / 2
		if 1-sch.Alpha(mid) < m {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// maskedPositions lists, for each row, where z holds [MASK].
func (s *Sampler) maskedPositions(z []int32, B, L int) ([][]int, int) {
	pos := make([][]int, B)
	total := 0
	for b := range B {
		for i, id := range z[b*L : (b+1)*L] {
			if id == s.v.Mask {
				pos[b] = append(pos[b], i)
			}
		}
		total += len(pos[b])
	}
	return pos, total
}

// activeRows sets s.sub to the rows with a masked position left (and
// s.tvec to their length); false when there are none.
func (s *Sampler) activeRows(pos [][]int) bool {
	s.sub = s.sub[:0]
	for b, p := range pos {
		if len(p) > 0 {
			s.sub = append(s.sub, b)
		}
	}
	s.tvec = grow(s.tvec, len(s.sub))
	return len(s.sub) > 0
}

// callAt runs the model on the rows in s.sub (rows of z, each at its own
// time in s.tvec) and leaves the logits of the positions s.pos (indices
// into that sub-batch's grid) in s.lpos, in order.
func (s *Sampler) callAt(z []int32, L int) error {
	V := s.v.Size
	nb := len(s.sub)
	s.zsub = grow(s.zsub, nb*L)
	for j, b := range s.sub {
		copy(s.zsub[j*L:(j+1)*L], z[b*L:(b+1)*L])
	}
	s.lpos = grow(s.lpos, len(s.pos)*V)
	if err := logitsAt(s.d, s.zsub, nb, L, V, s.tvec[:nb], s.pos, s.lpos, &s.lsub); err != nil {
		return err
	}
	s.calls++
	s.rows += nb
	return nil
}

// sampleFirstHitting is MethodFirstHitting; see there.
func (s *Sampler) sampleFirstHitting(z []int32, B, L int) error {
	V := s.v.Size
	k := max(s.cfg.TokensPerStep, 1)
	sch := s.cfg.Schedule
	pos, _ := s.maskedPositions(z, B, L)
	m := make([]float64, B) // 1 - alpha(t) of each row's current time
	for b := range m {
		m[b] = 1 - sch.Alpha(1)
	}
	for call := 1; s.activeRows(pos); call++ {
		// Each row's next reveal time: the first of n.
		for j, b := range s.sub {
			m[b] *= math.Pow(s.rng.Float64(), 1/float64(len(pos[b])))
			s.tvec[j] = float32(timeAt(sch, m[b]))
		}
		// The positions each row reveals, and its clock after them.
		s.pos = s.pos[:0]
		for j, b := range s.sub {
			p := pos[b]
			for i := range min(k, len(p)) {
				if i > 0 {
					m[b] *= math.Pow(s.rng.Float64(), 1/float64(len(p)-i))
				}
				// A uniform masked position, swapped to the front.
				q := i + s.rng.IntN(len(p)-i)
				p[i], p[q] = p[q], p[i]
				s.pos = append(s.pos, int32(j*L+p[i]))
			}
		}
		if err := s.callAt(z, L); err != nil {
			return fmt.Errorf("sample: first_hitting call %d: %w", call, err)
		}
		n := 0
		for _, b := range s.sub {
			p := pos[b]
			r := min(k, len(p))
			for i := range r {
				id, err := s.draw(s.lpos[n*V : (n+1)*V])
				if err != nil {
					return fmt.Errorf("sample: first_hitting call %d, row %d position %d: %w", call, b, p[i], err)
				}
				z[b*L+p[i]] = id
				n++
			}
			pos[b] = p[r:]
		}
	}
	return nil
}

// revealedAfter is how many of m positions a reveal schedule has revealed
// after call j of S (all of them after the last).
func revealedAfter(schedule string, m, j, S int) int {
	if j >= S {
		return m
	}
	f := float64(j) / float64(S)
	left := 1 - f
	if schedule == RevealCosine {
		left = math.Cos(math.Pi / 2 * f)
	}
	return min(m, int(math.Round(float64(m)*(1-left))))
}

// sampleTopK is MethodTopKConfidence; see there.
func (s *Sampler) sampleTopK(z []int32, B, L int) error {
	V := s.v.Size
	S := s.cfg.Steps
	sch := s.cfg.Schedule
	pos, _ := s.maskedPositions(z, B, L)
	m0 := make([]int, B)
	for b := range B {
		m0[b] = len(pos[b])
	}
	type cand struct {
		at   int
		id   int32
		conf float64
	}
	var cands []cand
	for j := 1; j <= S && s.activeRows(pos); j++ {
		// The time whose masking rate is the row's masked share.
		for i, b := range s.sub {
			frac := float64(len(pos[b])) / float64(m0[b])
			s.tvec[i] = float32(timeAt(sch, frac*(1-sch.Alpha(1))))
		}
		s.pos = s.pos[:0]
		for i, b := range s.sub {
			for _, at := range pos[b] {
				s.pos = append(s.pos, int32(i*L+at))
			}
		}
		if err := s.callAt(z, L); err != nil {
			return fmt.Errorf("sample: topk_confidence call %d of %d: %w", j, S, err)
		}
		n := 0
		for _, b := range s.sub {
			// At least one per call, so S calls always finish.
			r := max(revealedAfter(s.cfg.RevealSchedule, m0[b], j, S)-(m0[b]-len(pos[b])), 1)
			cands = cands[:0]
			for _, at := range pos[b] {
				lg := s.lpos[n*V : (n+1)*V]
				n++
				id, err := s.draw(lg)
				if err != nil {
					return fmt.Errorf("sample: topk_confidence call %d, row %d position %d: %w", j, b, at, err)
				}
				conf := math.Log(s.probOf(lg, id))
				if nz := s.cfg.ConfidenceNoise * (1 - float64(j)/float64(S)); nz > 0 {
					conf += nz * -math.Log(-math.Log(1-s.rng.Float64())) // Gumbel(0, 1)
				}
				cands = append(cands, cand{at, id, conf})
			}
			// Most confident first; ties by position, so a seed repeats.
			slices.SortStableFunc(cands, func(x, y cand) int {
				switch {
				case x.conf > y.conf:
					return -1
				case x.conf < y.conf:
					return 1
				}
				return x.at - y.at
			})
			for _, c := range cands[:r] {
				z[b*L+c.at] = c.id
			}
			left := pos[b][:0]
			for _, c := range cands[r:] {
				left = append(left, c.at)
			}
			slices.Sort(left)
			pos[b] = left
		}
	}
	return nil
}

// probOf is softmax(logits / temperature)[id] over the samplable ids.
func (s *Sampler) probOf(logits []float32, id int32) float64 {
	inv := 1 / s.cfg.Temperature
	mx := math.Inf(-1)
	for _, j := range s.ids {
		mx = math.Max(mx, float64(logits[j])*inv)
	}
	var sum float64
	for _, j := range s.ids {
		sum += math.Exp(float64(logits[j])*inv - mx)
	}
	return math.Exp(float64(logits[id])*inv-mx) / sum
}
