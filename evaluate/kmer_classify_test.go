package evaluate

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestKmerFeatures(t *testing.T) {
	// A C G T N A C: 2-mers AC CG GT (N breaks the run) AC.
	row := []uint8{7, 8, 9, 10, 11, 7, 8}
	f := make([]float64, 16)
	KmerFeatures(row, 2, f)
	want := map[int]float64{0*4 + 1: 0.5, 1*4 + 2: 0.25, 2*4 + 3: 0.25}
	for w, v := range f {
		if math.Abs(v-want[w]) > 1e-12 {
			t.Errorf("2-mer %d: %v, want %v", w, v, want[w])
		}
	}
	KmerFeatures([]uint8{11, 4, 4}, 2, f)
	for w, v := range f {
		if v != 0 {
			t.Errorf("row without a k-mer: feature %d = %v", w, v)
		}
	}
}

// dinucRows draws rows whose classes differ only in dinucleotides: class 0
// repeats "AC"/"CA" pairs, class 1 "AA"/"CC", with the same base
// composition, so a 1-mer model cannot tell them apart and a 2-mer can.
func dinucRows(n int, seed uint64) ([][]uint8, []int) {
	r := rand.New(rand.NewPCG(seed, 1))
	var rows [][]uint8
	var ys []int
	for i := range n {
		y := i % 2
		row := make([]uint8, 0, 60)
		for len(row) < 60 {
			a, b := uint8(7), uint8(8)
			if r.IntN(2) == 1 {
				a, b = b, a
			}
			if y == 1 {
				b = a
			}
			if r.Float64() < 0.3 { // noise: a random pair
				a, b = uint8(7+r.IntN(4)), uint8(7+r.IntN(4))
			}
			row = append(row, a, b)
		}
		rows, ys = append(rows, row), append(ys, y)
	}
	return rows, ys
}

func TestKmerClassifierSeparatesByDinucleotides(t *testing.T) {
	tr, ytr := dinucRows(200, 1)
	te, yte := dinucRows(100, 2)
	score := func(k int) float64 {
		c, err := FitKmerClassifier(tr, ytr, 2, KmerClassifierConfig{K: k})
		if err != nil {
			t.Fatal(err)
		}
		acc, err := Accuracy(yte, c.Predict(te))
		if err != nil {
			t.Fatal(err)
		}
		return acc
	}
	if a := score(2); a < 0.95 {
		t.Errorf("k = 2 accuracy %.3f, want >= 0.95", a)
	}
	if a := score(1); a > 0.75 {
		t.Errorf("k = 1 accuracy %.3f on a composition-balanced task, want near chance", a)
	}
}

func TestKmerClassifierBadInput(t *testing.T) {
	rows := [][]uint8{{7, 8}, {9, 10}}
	for _, c := range []struct {
		labels  []int
		classes int
		k       int
	}{{[]int{0, 1}, 2, 0}, {[]int{0, 1}, 2, 9}, {[]int{0}, 2, 2}, {[]int{0, 2}, 2, 2}, {[]int{0, 0}, 1, 2}} {
		if _, err := FitKmerClassifier(rows, c.labels, c.classes, KmerClassifierConfig{K: c.k}); err == nil {
			t.Errorf("labels %v classes %d k %d: no error", c.labels, c.classes, c.k)
		}
	}
}
