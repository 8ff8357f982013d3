package evaluate

import (
	"fmt"
	"math"
)

// Accuracy is the fraction of positions where pred equals truth.
func Accuracy(truth, pred []int) (float64, error) {
	if err := checkLabels(truth, pred); err != nil {
		return 0, err
	}
	ok := 0
	for i := range truth {
		if truth[i] == pred[i] {
			ok++
		}
	}
	return float64(ok) / float64(len(truth)), nil
}

// Confusion is a k x k confusion matrix: C[i][j] counts examples of true
// class i predicted as class j.
type Confusion [][]int

// NewConfusion counts truth/pred pairs over k classes (labels 0..k-1).
func NewConfusion(truth, pred []int, k int) (Confusion, error) {
	if err := checkLabels(truth, pred); err != nil {
		return nil, err
	}
	if k < 2 {
		return nil, fmt.Errorf("confusion: %d classes, need at least 2", k)
	}
	c := make(Confusion, k)
	for i := range c {
		c[i] = make([]int, k)
	}
	for i := range truth {
		t, p := truth[i], pred[i]
		if t < 0 || t >= k || p < 0 || p >= k {
			return nil, fmt.Errorf("confusion: example %d has labels (%d, %d) outside 0..%d", i, t, p, k-1)
		}
		c[t][p]++
	}
	return c, nil
}

// MCC is the Matthews correlation coefficient. For two classes it is the
// usual (TP TN - FP FN) / sqrt(...); for k classes it is Gorodkin's R_K
// (2004), which reduces to the binary MCC at k = 2. A zero denominator
// (a constant prediction or a single true class) gives 0, as scikit-learn does.
func MCC(truth, pred []int, k int) (float64, error) {
	c, err := NewConfusion(truth, pred, k)
	if err != nil {
		return 0, err
	}
	return c.MCC(), nil
}

// MCC is Gorodkin's R_K of the confusion matrix.
func (c Confusion) MCC() float64 {
	k := len(c)
	tk := make([]float64, k) // true counts per class (row sums)
	pk := make([]float64, k) // predicted counts per class (column sums)
	var correct, s float64
	for i := 0; i < k; i++ {
		for j := 0; j < k; j++ {
			v := float64(c[i][j])
			tk[i] += v
			pk[j] += v
			s += v
		}
		correct += float64(c[i][i])
	}
	var tp, tt, pp float64
	for i := 0; i < k; i++ {
		tp += tk[i] * pk[i]
		tt += tk[i] * tk[i]
		pp += pk[i] * pk[i]
	}
	den := math.Sqrt(s*s-pp) * math.Sqrt(s*s-tt)
	if den == 0 {
		return 0
	}
	return (correct*s - tp) / den
}

// MacroF1 is the unweighted mean over the k classes of the per-class F1.
// A class with no true and no predicted example has F1 0 (scikit-learn's
// zero_division=0), so it still counts in the mean.
func MacroF1(truth, pred []int, k int) (float64, error) {
	c, err := NewConfusion(truth, pred, k)
	if err != nil {
		return 0, err
	}
	return c.MacroF1(), nil
}

// MacroF1 is the mean per-class F1 of the confusion matrix.
func (c Confusion) MacroF1() float64 {
	k := len(c)
	var sum float64
	for i := 0; i < k; i++ {
		tp := float64(c[i][i])
		var fp, fn float64
		for j := 0; j < k; j++ {
			if j != i {
				fn += float64(c[i][j])
				fp += float64(c[j][i])
			}
		}
		if d := 2*tp + fp + fn; d > 0 {
			sum += 2 * tp / d
		}
	}
	return sum / float64(k)
}

func checkLabels(truth, pred []int) error {
	if len(truth) != len(pred) {
		return fmt.Errorf("metrics: %d true labels but %d predictions", len(truth), len(pred))
	}
	if len(truth) == 0 {
		return fmt.Errorf("metrics: no examples")
	}
	return nil
}

// Summary describes a score over repeated runs (seeds).
type Summary struct {
	N         int
	Mean, Std float64 // Std is the sample standard deviation (n-1); 0 for one run
	Min, Max  float64
}

// Summarize gives the mean, sample standard deviation, min and max of xs.
func Summarize(xs []float64) (Summary, error) {
	if len(xs) == 0 {
		return Summary{}, fmt.Errorf("summary: no values")
	}
	s := Summary{N: len(xs), Min: math.Inf(1), Max: math.Inf(-1)}
	for _, x := range xs {
		if math.IsNaN(x) {
			return Summary{}, fmt.Errorf("summary: NaN among %d values", len(xs))
		}
		s.Mean += x
		s.Min = math.Min(s.Min, x)
		s.Max = math.Max(s.Max, x)
	}
	s.Mean /= float64(len(xs))
	if len(xs) > 1 {
		var v float64
		for _, x := range xs {
			v += (x - s.Mean) * (x - s.Mean)
		}
		s.Std = math.Sqrt(v / float64(len(xs)-1))
	}
	return s, nil
}

func (s Summary) String() string {
	return fmt.Sprintf("%.4f ± %.4f (min %.4f, max %.4f, n=%d)", s.Mean, s.Std, s.Min, s.Max, s.N)
}
