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
		c, err := FitClassifier(tr, ytr, 2, KmerSpectrum{k}, ClassifierConfig{})
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
		if _, err := FitClassifier(rows, c.labels, c.classes, KmerSpectrum{c.k}, ClassifierConfig{}); err == nil {
			t.Errorf("labels %v classes %d k %d: no error", c.labels, c.classes, c.k)
		}
	}
}

func TestOneHotPositions(t *testing.T) {
	f := OneHotPositions{Len: 3}
	out := make([]float64, f.Dim())
	f.Fill([]uint8{10, 11, 7, 8}, out) // T N A (C past Len)
	want := []float64{0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0}
	for i := range want {
		if out[i] != want[i] {
			t.Fatalf("features %v, want %v", out, want)
		}
	}
	f.Fill([]uint8{8}, out) // short row: the rest zero
	if out[1] != 1 || out[5] != 0 {
		t.Fatalf("short row: %v", out)
	}
}

// motifRows: random bases, class 1 has a G at position 10 and class 0 a C
// there: the same composition up to one base, so only position tells.
func motifRows(n int, seed uint64) ([][]uint8, []int) {
	r := rand.New(rand.NewPCG(seed, 2))
	var rows [][]uint8
	var ys []int
	for i := range n {
		row := make([]uint8, 40)
		for j := range row {
			row[j] = uint8(7 + r.IntN(4))
		}
		y := i % 2
		row[10] = uint8(8 + y) // C or G
		rows, ys = append(rows, row), append(ys, y)
	}
	return rows, ys
}

func TestOneHotClassifierSeesPosition(t *testing.T) {
	tr, ytr := motifRows(300, 1)
	te, yte := motifRows(200, 2)
	score := func(f Features) float64 {
		c, err := FitClassifier(tr, ytr, 2, f, ClassifierConfig{})
		if err != nil {
			t.Fatal(err)
		}
		acc, err := Accuracy(yte, c.Predict(te))
		if err != nil {
			t.Fatal(err)
		}
		return acc
	}
	if a := score(OneHotPositions{Len: 40}); a < 0.99 {
		t.Errorf("one-hot accuracy %.3f, want >= 0.99", a)
	}
	if a := score(KmerSpectrum{K: 3}); a > 0.8 {
		t.Errorf("3-mer spectrum accuracy %.3f on a one-position task, want well below one-hot", a)
	}
}
