package evaluate

import (
	"errors"
	"fmt"
	"math"

	"github.com/seqdiff/seqdiff/vocab"
)

// KmerFeatures is the k-mer spectrum of a token row: the frequency of each
// of the 4^k words over A C G T (ids 7..10) among the row's k-mers, words
// holding anything else (N, [PAD]) skipped. Word w = sum_j base_j 4^(k-1-j)
// with A=0 C=1 G=2 T=3. A row with no k-mer gives all zeros.
//
//	row (L) -> features (4^k)
func KmerFeatures(row []uint8, k int, out []float64) {
	clear(out)
	mask := uint32(1)<<(2*k) - 1
	var w uint32
	run, n := 0, 0
	for _, id := range row {
		if id < vocab.A || id > vocab.T {
			run = 0
			continue
		}
		w = (w<<2 | uint32(id-vocab.A)) & mask
		if run++; run >= k {
			out[w]++
			n++
		}
	}
	if n > 0 {
		for i := range out {
			out[i] /= float64(n)
		}
	}
}

// KmerClassifier is the downstream baseline without a neural network:
// multinomial logistic regression on standardised k-mer spectra
// (KmerFeatures), fitted by full-batch gradient descent with an L2 penalty.
type KmerClassifier struct {
	K, Classes int
	Mean, Std  []float64 // per feature, from the training rows
	W          []float64 // (Classes, 4^K)
	Bias       []float64 // (Classes)
}

// KmerClassifierConfig sets the fit.
type KmerClassifierConfig struct {
	K     int     // word length (1..8)
	Iters int     // gradient steps (default 300)
	LR    float64 // step size (default 0.5)
	L2    float64 // penalty on W (default 1e-3)
}

// FitKmerClassifier fits a classifier of rows with labels 0..classes-1.
func FitKmerClassifier(rows [][]uint8, labels []int, classes int, cfg KmerClassifierConfig) (*KmerClassifier, error) {
	if cfg.K < 1 || cfg.K > 8 {
		return nil, fmt.Errorf("k-mer classifier: k %d outside 1..8", cfg.K)
	}
	if len(rows) == 0 || len(rows) != len(labels) {
		return nil, fmt.Errorf("k-mer classifier: %d rows, %d labels", len(rows), len(labels))
	}
	if classes < 2 {
		return nil, errors.New("k-mer classifier: need at least 2 classes")
	}
	for i, y := range labels {
		if y < 0 || y >= classes {
			return nil, fmt.Errorf("k-mer classifier: row %d has label %d outside 0..%d", i, y, classes-1)
		}
	}
	if cfg.Iters == 0 {
		cfg.Iters = 300
	}
	if cfg.LR == 0 {
		cfg.LR = 0.5
	}
	if cfg.L2 == 0 {
		cfg.L2 = 1e-3
	}
	F := 1 << (2 * cfg.K)
	N := len(rows)
	X := make([]float64, N*F)
	for i, r := range rows {
		KmerFeatures(r, cfg.K, X[i*F:(i+1)*F])
	}
	c := &KmerClassifier{K: cfg.K, Classes: classes, Mean: make([]float64, F), Std: make([]float64, F),
		W: make([]float64, classes*F), Bias: make([]float64, classes)}
	for i := range N {
		for j, v := range X[i*F : (i+1)*F] {
			c.Mean[j] += v
			c.Std[j] += v * v
		}
	}
	for j := range F {
		m := c.Mean[j] / float64(N)
		c.Mean[j] = m
		c.Std[j] = math.Sqrt(max(c.Std[j]/float64(N)-m*m, 0)) + 1e-8
	}
	for i := range N {
		x := X[i*F : (i+1)*F]
		for j := range x {
			x[j] = (x[j] - c.Mean[j]) / c.Std[j]
		}
	}
	// Full-batch gradient descent on the mean cross-entropy + L2/2 |W|^2:
	// standardised features keep the problem well conditioned enough for a
	// fixed step.
	gW, gB := make([]float64, len(c.W)), make([]float64, classes)
	p := make([]float64, classes)
	for range cfg.Iters {
		clear(gW)
		clear(gB)
		for i := range N {
			x := X[i*F : (i+1)*F]
			c.softmax(x, p)
			p[labels[i]]--
			for k, d := range p {
				gB[k] += d
				g := gW[k*F : (k+1)*F]
				for j, v := range x {
					g[j] += d * v
				}
			}
		}
		for j := range c.W {
			c.W[j] -= cfg.LR * (gW[j]/float64(N) + cfg.L2*c.W[j])
		}
		for k := range c.Bias {
			c.Bias[k] -= cfg.LR * gB[k] / float64(N)
		}
	}
	return c, nil
}

// softmax writes the class probabilities of standardised features x to p.
func (c *KmerClassifier) softmax(x, p []float64) {
	F := len(c.Mean)
	mx := math.Inf(-1)
	for k := range p {
		s := c.Bias[k]
		for j, v := range c.W[k*F : (k+1)*F] {
			s += v * x[j]
		}
		p[k] = s
		mx = max(mx, s)
	}
	sum := 0.0
	for k := range p {
		p[k] = math.Exp(p[k] - mx)
		sum += p[k]
	}
	for k := range p {
		p[k] /= sum
	}
}

// Predict returns the most probable class of each row.
func (c *KmerClassifier) Predict(rows [][]uint8) []int {
	F := len(c.Mean)
	x, p := make([]float64, F), make([]float64, c.Classes)
	out := make([]int, len(rows))
	for i, r := range rows {
		KmerFeatures(r, c.K, x)
		for j := range x {
			x[j] = (x[j] - c.Mean[j]) / c.Std[j]
		}
		c.softmax(x, p)
		best := 0
		for k := range p {
			if p[k] > p[best] {
				best = k
			}
		}
		out[i] = best
	}
	return out
}
