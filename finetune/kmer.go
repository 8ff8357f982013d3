package finetune

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/seqdiff/seqdiff/evaluate"
)

// KmerOptions configure the k-mer baseline of a task.
type KmerOptions struct {
	Seeds     []uint64
	Ks        []int   // word lengths tried; the best on valid is kept (default 1..6)
	ValidFrac float64 // default 0.1
	MaxTrain  int     // as Options.MaxTrain
	MaxTest   int     // as Options.MaxTest
	MaxLen    int     // crop length as Pack (0: none)
}

// KmerBaseline scores task with evaluate.KmerClassifier under the protocol
// of Run: per seed the same MaxTrain sample and train/valid split, k chosen
// by valid accuracy among Ks, the test part scored with that k. Rows are
// centre-cropped to MaxLen as Pack does, so it sees what the models see.
func KmerBaseline(ctx context.Context, task *Task, o KmerOptions) (*Results, error) {
	if len(o.Seeds) == 0 {
		o.Seeds = []uint64{1, 2, 3}
	}
	if len(o.Ks) == 0 {
		o.Ks = []int{1, 2, 3, 4, 5, 6}
	}
	if o.ValidFrac == 0 {
		o.ValidFrac = 0.1
	}
	crop := func(ex []Example) ([][]uint8, []int) {
		rows, ys := make([][]uint8, len(ex)), make([]int, len(ex))
		for i, e := range ex {
			s := e.Seq
			if o.MaxLen > 0 && len(s) > o.MaxLen {
				off := (len(s) - o.MaxLen) / 2
				s = s[off : off+o.MaxLen]
			}
			rows[i], ys[i] = s, e.Label
		}
		return rows, ys
	}
	K := len(task.Classes)
	res := &Results{Task: task.Name, Source: task.Source, Split: task.Split, Classes: task.Classes, NTrain: len(task.Train),
		NTest: len(task.Test), ValidFrac: o.ValidFrac, Checkpoint: "k-mer logistic regression", Mode: evaluate.KmerMode, Seeds: o.Seeds,
		Attention: "none", Crop: CropRule, Options: o}
	test := task.Test
	if o.MaxTest > 0 {
		test = Subsample(test, o.MaxTest, TestSeed)
		res.NTest = len(test)
	}
	teX, teY := crop(test)
	var acc, mcc, f1 []float64
	for _, seed := range o.Seeds {
		t0 := time.Now()
		tr, va := TrainValid(task.Train, o.MaxTrain, o.ValidFrac, seed)
		trX, trY := crop(tr)
		vaX, vaY := crop(va)
		sr := SeedResult{Seed: seed, TrainRows: len(tr), ValidRows: len(va), ValidAccuracy: -1}
		var best *evaluate.KmerClassifier
		for _, k := range o.Ks {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			c, err := evaluate.FitKmerClassifier(trX, trY, K, evaluate.KmerClassifierConfig{K: k})
			if err != nil {
				return nil, fmt.Errorf("k-mer baseline on %s, seed %d: %w", task.Name, seed, err)
			}
			a, err := evaluate.Accuracy(vaY, c.Predict(vaX))
			if err != nil {
				return nil, err
			}
			if a > sr.ValidAccuracy {
				sr.ValidAccuracy, sr.K, best = a, k, c
			}
		}
		pred := best.Predict(teX)
		var err error
		if sr.Accuracy, err = evaluate.Accuracy(teY, pred); err != nil {
			return nil, err
		}
		if sr.MCC, err = evaluate.MCC(teY, pred, K); err != nil {
			return nil, err
		}
		if sr.F1, err = evaluate.MacroF1(teY, pred, K); err != nil {
			return nil, err
		}
		sr.Seconds = math.Round(time.Since(t0).Seconds()*100) / 100
		res.PerSeed = append(res.PerSeed, sr)
		acc, mcc, f1 = append(acc, sr.Accuracy), append(mcc, sr.MCC), append(f1, sr.F1)
	}
	res.Accuracy, res.MCC, res.F1 = stat(acc), stat(mcc), stat(f1)
	return res, nil
}
