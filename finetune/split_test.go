package finetune

import (
	"context"
	"slices"
	"testing"

	"github.com/seqdiff/seqdiff/evaluate"
)

func TestSubsampleStratifiedAndFixed(t *testing.T) {
	var ex []Example
	for i := range 300 {
		ex = append(ex, Example{Seq: []uint8{uint8(7 + i%4)}, Label: min(i%3, 1)}) // labels 0:1 = 1:2
	}
	a, b := Subsample(ex, 60, 7), Subsample(ex, 60, 7)
	if len(a) != 60 || !slices.EqualFunc(a, b, func(x, y Example) bool { return x.Label == y.Label && x.Seq[0] == y.Seq[0] }) {
		t.Fatalf("sample of 60: got %d rows, or two calls differ", len(a))
	}
	n0 := 0
	for _, e := range a {
		if e.Label == 0 {
			n0++
		}
	}
	if n0 != 20 {
		t.Errorf("class 0 has %d of 60 sampled rows, want 20 (a third)", n0)
	}
	if c := Subsample(ex, 60, 8); slices.EqualFunc(a, c, func(x, y Example) bool { return &x.Seq[0] == &y.Seq[0] }) {
		t.Error("another seed drew the same rows")
	}
	if len(Subsample(ex, 0, 1)) != 300 || len(Subsample(ex, 500, 1)) != 300 {
		t.Error("n <= 0 or n >= len must keep every row")
	}
}

func TestKmerBaselineLearnsSeparableTask(t *testing.T) {
	all := separable(400, 3)
	task := &Task{Name: "sep", Classes: []string{"a", "b"}, Train: all[:300], Test: all[300:]}
	res, err := Baseline(context.Background(), task, BaselineOptions{Mode: KmerBaselineMode, Seeds: []uint64{1, 2}, Ks: []int{1, 2}, MaxTrain: 200, MaxTest: 60})
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != evaluate.KmerMode || res.NTest != 60 || len(res.PerSeed) != 2 || res.PerSeed[0].TrainRows+res.PerSeed[0].ValidRows != 200 {
		t.Fatalf("results: %+v", res)
	}
	if res.Accuracy.Mean < 0.9 {
		t.Errorf("accuracy %.3f on a separable task", res.Accuracy.Mean)
	}
	for _, sr := range res.PerSeed {
		if sr.K != 1 && sr.K != 2 {
			t.Errorf("seed %d chose k %d outside the list", sr.Seed, sr.K)
		}
	}
}
