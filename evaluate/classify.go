package evaluate

import (
	"fmt"
	"math"

	"github.com/seqdiff/seqdiff/vocab"
)

// Features turns a token row into a fixed-length feature vector: the input
// of the network-free downstream baselines.
type Features interface {
	Dim() int                        // length of the vector
	Fill(row []uint8, out []float64) // out has Dim() entries
	String() string                  // what a report calls it: "k-mer spectrum k = 4"
}

// KmerSpectrum is the k-mer spectrum of a row: the frequency of each of the
// 4^K words over A C G T among the row's K-mers, words holding anything else
// (N, [PAD]) skipped. Word w = sum_j base_j 4^(K-1-j) with A=0 C=1 G=2 T=3.
// A row with no K-mer gives all zeros. It ignores where a word occurs: the
// baseline for tasks decided by composition.
//
//	row (L) -> features (4^K)
type KmerSpectrum struct{ K int }

// Dim is 4^K.
func (f KmerSpectrum) Dim() int { return 1 << (2 * f.K) }

func (f KmerSpectrum) String() string { return fmt.Sprintf("k-mer spectrum k = %d", f.K) }

// Fill writes the spectrum of row to out.
func (f KmerSpectrum) Fill(row []uint8, out []float64) { KmerFeatures(row, f.K, out) }

// KmerFeatures is KmerSpectrum{k}.Fill.
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

// OneHotPositions is the base at each of the first Len positions, one-hot
// over A C G T (N, [PAD] and positions past the row's end all zero): a
// linear model on it is a position weight matrix, the floor for aligned,
// fixed-length tasks (a splice site, a TSS at a fixed offset), which a
// spectrum cannot see.
//
//	row (L) -> features (4 Len)
type OneHotPositions struct{ Len int }

// Dim is 4 Len.
func (f OneHotPositions) Dim() int { return 4 * f.Len }

func (f OneHotPositions) String() string { return fmt.Sprintf("one-hot bases at %d positions", f.Len) }

// Fill writes the one-hot encoding of row[:Len] to out.
func (f OneHotPositions) Fill(row []uint8, out []float64) {
	clear(out)
	for i, id := range row[:min(len(row), f.Len)] {
		if id >= vocab.A && id <= vocab.T {
			out[4*i+int(id-vocab.A)] = 1
		}
	}
}

// Classifier is a downstream baseline without a neural network:
// multinomial logistic regression on standardised Features, fitted by
// full-batch gradient descent with an L2 penalty.
type Classifier struct {
	Features  Features
	Classes   int
	Mean, Std []float64 // per feature, from the training rows
	W         []float64 // (Classes, Dim)
	Bias      []float64 // (Classes)
	L2        float64
}

// ClassifierConfig sets the fit.
type ClassifierConfig struct {
	Iters int     // gradient steps (default 300)
	LR    float64 // step size (default 0.5)
	L2    float64 // penalty on W (default 1e-3)
}

// FitClassifier fits a classifier of rows with labels 0..classes-1 on the
// features f of each row.
func FitClassifier(rows [][]uint8, labels []int, classes int, f Features, cfg ClassifierConfig) (*Classifier, error) {
	if len(rows) == 0 || len(rows) != len(labels) {
		return nil, fmt.Errorf("%s classifier: %d rows, %d labels", f, len(rows), len(labels))
	}
	if classes < 2 {
		return nil, fmt.Errorf("%s classifier: need at least 2 classes", f)
	}
	switch f := f.(type) {
	case KmerSpectrum:
		if f.K < 1 || f.K > 8 {
			return nil, fmt.Errorf("k-mer classifier: k %d outside 1..8", f.K)
		}
	case OneHotPositions:
		if f.Len < 1 {
			return nil, fmt.Errorf("one-hot classifier: %d positions", f.Len)
		}
	}
	for i, y := range labels {
		if y < 0 || y >= classes {
			return nil, fmt.Errorf("%s classifier: row %d has label %d outside 0..%d", f, i, y, classes-1)
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
	F := f.Dim()
	N := len(rows)
	X := make([]float64, N*F)
	for i, r := range rows {
		f.Fill(r, X[i*F:(i+1)*F])
	}
	c := &Classifier{Features: f, Classes: classes, Mean: make([]float64, F), Std: make([]float64, F),
		W: make([]float64, classes*F), Bias: make([]float64, classes), L2: cfg.L2}
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
func (c *Classifier) softmax(x, p []float64) {
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
func (c *Classifier) Predict(rows [][]uint8) []int {
	F := len(c.Mean)
	x, p := make([]float64, F), make([]float64, c.Classes)
	out := make([]int, len(rows))
	for i, r := range rows {
		c.Features.Fill(r, x)
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
