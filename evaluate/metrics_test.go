package evaluate

import (
	"math"
	"testing"
)

func close(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestBinaryMetricsHandComputed(t *testing.T) {
	// TP=3 FN=1 FP=2 TN=4 (truth 1 = positive).
	truth := []int{1, 1, 1, 1, 0, 0, 0, 0, 0, 0}
	pred := []int{1, 1, 1, 0, 1, 1, 0, 0, 0, 0}
	acc, err := Accuracy(truth, pred)
	if err != nil || acc != 0.7 {
		t.Fatalf("accuracy %v %v, want 0.7", acc, err)
	}
	mcc, _ := MCC(truth, pred, 2)
	want := (3.0*4 - 2*1) / math.Sqrt(5*4*6*5) // (TP TN - FP FN)/sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN))
	if !close(mcc, want, 1e-12) {
		t.Fatalf("mcc %v want %v", mcc, want)
	}
	f1, _ := MacroF1(truth, pred, 2)
	f1pos := 2 * 3.0 / (2*3 + 2 + 1)
	f1neg := 2 * 4.0 / (2*4 + 1 + 2)
	if !close(f1, (f1pos+f1neg)/2, 1e-12) {
		t.Fatalf("macro f1 %v want %v", f1, (f1pos+f1neg)/2)
	}
}

func TestMulticlassMCCGorodkin(t *testing.T) {
	// Confusion [[2,1,0],[0,2,1],[1,0,3]]: s=10, c=7,
	// t=(3,3,4) p=(3,3,4): (c*s - t.p)/sqrt((s^2-p.p)(s^2-t.t)) = (70-34)/66.
	truth := []int{0, 0, 0, 1, 1, 1, 2, 2, 2, 2}
	pred := []int{0, 0, 1, 1, 1, 2, 0, 2, 2, 2}
	mcc, err := MCC(truth, pred, 3)
	if err != nil || !close(mcc, 36.0/66, 1e-12) {
		t.Fatalf("mcc %v %v want %v", mcc, err, 36.0/66)
	}
	perfect, _ := MCC(truth, truth, 3)
	if !close(perfect, 1, 1e-12) {
		t.Fatalf("perfect mcc %v", perfect)
	}
	constant, _ := MCC(truth, make([]int, len(truth)), 3)
	if constant != 0 {
		t.Fatalf("constant prediction mcc %v, want 0", constant)
	}
	// F1 per class: 2/(2*2+1+1)... class0 tp2 fn1 fp1 -> 4/6; class1 tp2 fn1 fp1 -> 4/6; class2 tp3 fn1 fp1 -> 6/8.
	f1, _ := MacroF1(truth, pred, 3)
	if !close(f1, (4.0/6+4.0/6+6.0/8)/3, 1e-12) {
		t.Fatalf("macro f1 %v", f1)
	}
}

func TestMetricErrors(t *testing.T) {
	if _, err := Accuracy([]int{1}, []int{1, 0}); err == nil {
		t.Fatal("length mismatch accepted")
	}
	if _, err := MCC([]int{0, 3}, []int{0, 1}, 2); err == nil {
		t.Fatal("label outside classes accepted")
	}
	if _, err := Summarize(nil); err == nil {
		t.Fatal("empty summary accepted")
	}
}

func TestSummarize(t *testing.T) {
	s, err := Summarize([]float64{1, 2, 3, 6})
	if err != nil {
		t.Fatal(err)
	}
	if s.Mean != 3 || s.Min != 1 || s.Max != 6 || s.N != 4 || !close(s.Std, math.Sqrt(14.0/3), 1e-12) {
		t.Fatalf("summary %+v", s)
	}
}

func TestChiSquareSF(t *testing.T) {
	for _, c := range []struct {
		x    float64
		df   int
		want float64
	}{
		{3.841458820694124, 1, 0.05},
		{6.634896601021214, 1, 0.01},
		{2, 2, math.Exp(-1)}, // df=2: exp(-x/2)
		{40, 2, math.Exp(-20)},
		{18.307038053275146, 10, 0.05},
		{0.5, 7, odd7(0.5)},
	} {
		got := ChiSquareSF(c.x, c.df)
		if math.Abs(got-c.want) > 1e-6*math.Max(1, c.want) && math.Abs(got/c.want-1) > 1e-6 {
			t.Errorf("sf(%v, %d) = %v want %v", c.x, c.df, got, c.want)
		}
	}
}

// odd7 is the closed form of the chi-square survival function at 7 degrees
// of freedom: erfc(sqrt(x/2)) + 2 phi(sqrt x) (x^0.5 + x^1.5/3 + x^2.5/15).
func odd7(x float64) float64 {
	phi := math.Exp(-x/2) / math.Sqrt(2*math.Pi)
	return math.Erfc(math.Sqrt(x/2)) + 2*phi*(math.Pow(x, 0.5)+math.Pow(x, 1.5)/3+math.Pow(x, 2.5)/15)
}

func TestChiSquareTests(t *testing.T) {
	// Observed exactly as expected: statistic 0, p 1.
	st, df, p, err := ChiSquareGOF([]int{25, 25, 50}, []float64{0.25, 0.25, 0.5})
	if err != nil || st != 0 || df != 2 || p != 1 {
		t.Fatalf("gof %v %v %v %v", st, df, p, err)
	}
	// (60-50)^2/50 + (40-50)^2/50 = 4, df 1.
	st, df, p, _ = ChiSquareGOF([]int{60, 40}, []float64{0.5, 0.5})
	if st != 4 || df != 1 || !close(p, 0.0455003, 1e-6) {
		t.Fatalf("gof %v %v %v", st, df, p)
	}
	if _, _, p, _ := ChiSquareGOF([]int{1, 1}, []float64{1, 0}); p != 0 {
		t.Fatalf("count in an impossible category: p %v", p)
	}
	// 2x2 table [[10,20],[20,10]]: expected 15 everywhere, stat 4*25/15.
	st, df, _, _ = ChiSquareHomogeneity([]int{10, 20}, []int{20, 10})
	if !close(st, 100.0/15, 1e-12) || df != 1 {
		t.Fatalf("homogeneity %v %v", st, df)
	}
}
