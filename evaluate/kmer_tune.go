package evaluate

import (
	"fmt"
	"math"
)

// TuneAlpha fits AddAlpha's concentration beta_j of every order j = 0..k
// to maximise the likelihood of held-out rows (a validation split, never
// the test rows), greedily from order 0 up: beta_j is the best for the
// order-j model given the lower orders' betas, found by golden-section
// search on log beta in [1e-2, 1e5]. It switches the model to AddAlpha and
// returns the betas. High orders get large betas (their sparse counts are
// trusted less), which is what keeps k = 10..12 from overfitting.
func (m *Kmer) TuneAlpha(valid [][]uint8) ([]float64, error) {
	m.cfg.Smoothing = AddAlpha
	m.finish()
	k := m.cfg.Order
	type pos struct {
		ctx uint32
		w   uint8
		h   uint8
	}
	var ps []pos
	for _, r := range valid {
		m.walk(r, func(w, h int, ctx uint32, afterN bool) {
			ps = append(ps, pos{ctx, uint8(w), uint8(h)})
		})
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("kmer tune: no scored positions in %d validation rows", len(valid))
	}
	S := m.S
	prev := make([]float64, len(ps)) // p_{j-1}(w) of each position
	for i := range prev {
		prev[i] = 1 / float64(S)
	}
	cw := make([]float64, len(ps))
	ct := make([]float64, len(ps))
	idx := make([]int, 0, len(ps))
	for j := 0; j <= k; j++ {
		idx = idx[:0]
		for i, p := range ps {
			if int(p.h) < j {
				continue
			}
			c := int(p.ctx&(uint32(1)<<(2*j)-1)) * S
			row := m.counts[j][c : c+S]
			var tot float64
			for _, v := range row {
				tot += float64(v)
			}
			if tot == 0 {
				continue // unseen context: p_j = p_{j-1} whatever beta is
			}
			cw[i], ct[i] = float64(row[p.w]), tot
			idx = append(idx, i)
		}
		ll := func(logBeta float64) float64 {
			b := math.Exp(logBeta)
			var s float64
			for _, i := range idx {
				s += math.Log((cw[i] + b*prev[i]) / (ct[i] + b))
			}
			return s
		}
		best := goldenMax(ll, math.Log(1e-2), math.Log(1e5), 40)
		m.beta[j] = math.Exp(best)
		for _, i := range idx {
			prev[i] = (cw[i] + m.beta[j]*prev[i]) / (ct[i] + m.beta[j])
		}
	}
	return append([]float64(nil), m.beta[:k+1]...), nil
}

// goldenMax maximises a unimodal f on [a, b] by golden-section search.
func goldenMax(f func(float64) float64, a, b float64, iters int) float64 {
	g := (math.Sqrt(5) - 1) / 2
	c, d := b-g*(b-a), a+g*(b-a)
	fc, fd := f(c), f(d)
	for i := 0; i < iters; i++ {
		if fc > fd {
			b, d, fd = d, c, fc
			c = b - g*(b-a)
			fc = f(c)
		} else {
			a, c, fc = c, d, fd
			d = a + g*(b-a)
			fd = f(d)
		}
	}
	return (a + b) / 2
}
