package mdlm

import (
	"math"
	"math/rand/v2"

	"github.com/seqdiff/seqdiff/vocab"
)

// Synthetic denoisers whose true conditionals are known, so the objective
// and the samplers can be checked without a transformer.

var negInf = float32(math.Inf(-1))

// indepDenoiser ignores z: position i's clean token is drawn from the
// fixed categorical softmax(table[i]). It also gives [MASK] and [PAD] the
// largest logits, which SUBS and the samplable set must ignore.
type indepDenoiser struct {
	V     int
	table [][]float32 // L x V
	calls int
}

func newIndep(rng *rand.Rand, v vocab.Vocab, L int) *indepDenoiser {
	d := &indepDenoiser{V: v.Size}
	for i := 0; i < L; i++ {
		row := make([]float32, v.Size)
		for j := range row {
			row[j] = negInf
		}
		for _, id := range v.Samplable {
			row[id] = float32(rng.NormFloat64())
		}
		row[v.Mask], row[v.Pad] = 10, 10
		d.table = append(d.table, row)
	}
	return d
}

func (d *indepDenoiser) Logits(z []int32, B, L int, t []float32, out []float32) error {
	d.calls++
	for b := 0; b < B; b++ {
		for i := 0; i < L; i++ {
			copy(out[(b*L+i)*d.V:], d.table[i])
		}
	}
	return nil
}

// probs is the distribution the sampler must draw position i from:
// softmax(table[i]/temp) over the samplable ids.
func (d *indepDenoiser) probs(v vocab.Vocab, i int, temp float64) []float64 {
	p := make([]float64, len(v.Samplable))
	var s float64
	for j, id := range v.Samplable {
		p[j] = math.Exp(float64(d.table[i][id]) / temp)
		s += p[j]
	}
	for j := range p {
		p[j] /= s
	}
	return p
}

// markov is a first-order chain over the 4 bases (ids 7..10) started at
// its stationary distribution.
type markov struct {
	P    [4][4]float64
	pi   [4]float64
	pows [][4][4]float64 // pows[n] = P^n
}

func newMarkov(rng *rand.Rand, maxLen int) *markov {
	m := &markov{}
	for a := range m.P {
		var s float64
		for b := range m.P[a] {
			m.P[a][b] = 0.1 + rng.Float64()
			s += m.P[a][b]
		}
		for b := range m.P[a] {
			m.P[a][b] /= s
		}
	}
	m.pi = [4]float64{0.25, 0.25, 0.25, 0.25}
	for it := 0; it < 1000; it++ {
		var nx [4]float64
		for a := range m.pi {
			for b := range nx {
				nx[b] += m.pi[a] * m.P[a][b]
			}
		}
		m.pi = nx
	}
	id := [4][4]float64{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}
	m.pows = append(m.pows, id)
	for n := 1; n <= maxLen; n++ {
		prev := m.pows[n-1]
		var nx [4][4]float64
		for a := 0; a < 4; a++ {
			for b := 0; b < 4; b++ {
				for c := 0; c < 4; c++ {
					nx[a][b] += prev[a][c] * m.P[c][b]
				}
			}
		}
		m.pows = append(m.pows, nx)
	}
	return m
}

func (m *markov) sample(rng *rand.Rand, L int) []int32 {
	row := make([]int32, L)
	s := drawF(rng, m.pi[:])
	for i := range row {
		if i > 0 {
			s = drawF(rng, m.P[s][:])
		}
		row[i] = int32(7 + s)
	}
	return row
}

// nll is the exact -log p(row).
func (m *markov) nll(row []int32) float64 {
	l := -math.Log(m.pi[row[0]-7])
	for i := 1; i < len(row); i++ {
		l -= math.Log(m.P[row[i-1]-7][row[i]-7])
	}
	return l
}

// entropyRate is -sum_a pi(a) sum_b P(a,b) log P(a,b).
func (m *markov) entropyRate() float64 {
	var h float64
	for a := range m.P {
		for b := range m.P[a] {
			h -= m.pi[a] * m.P[a][b] * math.Log(m.P[a][b])
		}
	}
	return h
}

func drawF(rng *rand.Rand, p []float64) int {
	u := rng.Float64()
	for i, q := range p {
		if u < q {
			return i
		}
		u -= q
	}
	return len(p) - 1
}

// markovDenoiser outputs the exact conditional p(x_i | unmasked tokens of
// z) of the chain: with the nearest unmasked neighbours l (a positions to
// the left) and r (c to the right), p(w) is proportional to
// P^a[l][w] P^c[w][r] (pi(w) without a left neighbour). iid makes it a
// deliberately wrong model that always answers pi.
type markovDenoiser struct {
	m     *markov
	V     int
	mask  int32
	iid   bool
	calls int
}

func (d *markovDenoiser) Logits(z []int32, B, L int, t []float32, out []float32) error {
	d.calls++
	for b := 0; b < B; b++ {
		row := z[b*L : (b+1)*L]
		for i := 0; i < L; i++ {
			o := out[(b*L+i)*d.V : (b*L+i+1)*d.V]
			for j := range o {
				o[j] = negInf
			}
			var p [4]float64
			for w := 0; w < 4; w++ {
				p[w] = d.m.pi[w]
			}
			if !d.iid {
				for j := i - 1; j >= 0; j-- {
					if row[j] != d.mask {
						for w := 0; w < 4; w++ {
							p[w] = d.m.pows[i-j][row[j]-7][w]
						}
						break
					}
				}
				for j := i + 1; j < L; j++ {
					if row[j] != d.mask {
						for w := 0; w < 4; w++ {
							p[w] *= d.m.pows[j-i][w][row[j]-7]
						}
						break
					}
				}
			}
			for w := 0; w < 4; w++ {
				o[7+w] = float32(math.Log(p[w]))
			}
		}
	}
	return nil
}
