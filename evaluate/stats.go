package evaluate

import (
	"fmt"
	"math"
)

// ChiSquareSF is the survival function P(X >= x) of a chi-square
// distribution with df degrees of freedom: the p-value of a chi-square
// statistic x. It is the regularised upper incomplete gamma Q(df/2, x/2).
func ChiSquareSF(x float64, df int) float64 {
	if df <= 0 {
		return math.NaN()
	}
	if x <= 0 {
		return 1
	}
	return gammaQ(float64(df)/2, x/2)
}

// gammaQ is the regularised upper incomplete gamma function Q(a, x), by the
// power series of P for x < a+1 and Lentz's continued fraction otherwise
// (both converge fast in their region).
func gammaQ(a, x float64) float64 {
	lg, _ := math.Lgamma(a)
	if x < a+1 {
		sum, del, ap := 1/a, 1/a, a
		for n := 0; n < 1000; n++ {
			ap++
			del *= x / ap
			sum += del
			if math.Abs(del) < math.Abs(sum)*1e-15 {
				break
			}
		}
		return 1 - sum*math.Exp(-x+a*math.Log(x)-lg)
	}
	const tiny = 1e-300
	b := x + 1 - a
	c := 1 / tiny
	d := 1 / b
	h := d
	for i := 1; i < 1000; i++ {
		an := -float64(i) * (float64(i) - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 1e-15 {
			break
		}
	}
	return math.Exp(-x+a*math.Log(x)-lg) * h
}

// ChiSquareGOF is Pearson's goodness-of-fit test of observed counts against
// the category probabilities probs (summing to 1). Categories with zero
// probability must have zero counts (otherwise the statistic is +Inf and
// p = 0); they do not count as degrees of freedom. It returns the
// statistic, the degrees of freedom (categories with positive probability
// minus one) and the p-value.
func ChiSquareGOF(observed []int, probs []float64) (stat float64, df int, p float64, err error) {
	if len(observed) != len(probs) {
		return 0, 0, 0, fmt.Errorf("chi-square: %d counts for %d probabilities", len(observed), len(probs))
	}
	n := 0
	for _, o := range observed {
		if o < 0 {
			return 0, 0, 0, fmt.Errorf("chi-square: negative count %d", o)
		}
		n += o
	}
	if n == 0 {
		return 0, 0, 0, fmt.Errorf("chi-square: no observations")
	}
	k := 0
	for i, q := range probs {
		if q < 0 {
			return 0, 0, 0, fmt.Errorf("chi-square: negative probability %g at %d", q, i)
		}
		if q == 0 {
			if observed[i] > 0 {
				return math.Inf(1), k, 0, nil
			}
			continue
		}
		k++
		e := q * float64(n)
		d := float64(observed[i]) - e
		stat += d * d / e
	}
	df = k - 1
	if df < 1 {
		return stat, df, 1, nil
	}
	return stat, df, ChiSquareSF(stat, df), nil
}

// ChiSquareHomogeneity is Pearson's two-sample test that the counts a and b
// come from the same categorical distribution (a 2 x k contingency table).
// Categories empty in both samples are dropped.
func ChiSquareHomogeneity(a, b []int) (stat float64, df int, p float64, err error) {
	if len(a) != len(b) {
		return 0, 0, 0, fmt.Errorf("chi-square: samples have %d and %d categories", len(a), len(b))
	}
	na, nb := 0, 0
	for i := range a {
		if a[i] < 0 || b[i] < 0 {
			return 0, 0, 0, fmt.Errorf("chi-square: negative count in category %d", i)
		}
		na += a[i]
		nb += b[i]
	}
	if na == 0 || nb == 0 {
		return 0, 0, 0, fmt.Errorf("chi-square: empty sample (%d, %d observations)", na, nb)
	}
	n := float64(na + nb)
	k := 0
	for i := range a {
		col := float64(a[i] + b[i])
		if col == 0 {
			continue
		}
		k++
		ea := col * float64(na) / n
		eb := col * float64(nb) / n
		da, db := float64(a[i])-ea, float64(b[i])-eb
		stat += da*da/ea + db*db/eb
	}
	df = k - 1
	if df < 1 {
		return stat, df, 1, nil
	}
	return stat, df, ChiSquareSF(stat, df), nil
}
