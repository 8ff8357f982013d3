package finetune

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/seqdiff/seqdiff/evaluate"
)

// The network-free rows of every downstream table (Results.Mode).
const (
	// KmerBaselineMode: logistic regression on k-mer spectra, k chosen on
	// valid; what composition alone gets.
	KmerBaselineMode = evaluate.KmerMode
	// OneHotBaselineMode: logistic regression on the one-hot base at each
	// position (a position weight matrix), L2 chosen on valid; what
	// position alone gets on aligned, fixed-length tasks.
	OneHotBaselineMode = "onehot"
)

// BaselineModes lists the baselines in the order reports show them.
var BaselineModes = []string{KmerBaselineMode, OneHotBaselineMode}

// BaselineOptions configure a baseline row of a task.
type BaselineOptions struct {
	Mode      string // KmerBaselineMode or OneHotBaselineMode
	Seeds     []uint64
	Ks        []int     // k-mer: word lengths tried, the best on valid kept (default 1..6)
	L2s       []float64 // one-hot: penalties tried, the best on valid kept (default 1e-3, 1e-2, 1e-1)
	ValidFrac float64   // default 0.1
	MaxTrain  int       // as Options.MaxTrain
	MaxTest   int       // as Options.MaxTest
	MaxLen    int       // crop length as Pack (0: none; one-hot: the longest row)
}

// Baseline scores task with an evaluate.Classifier under the protocol of
// Run: per seed the same MaxTrain sample and train/valid split, the
// setting (k, or the L2 penalty) chosen by valid accuracy, the test part
// scored with it. Rows are centre-cropped to MaxLen as Pack does, so it
// sees what the models see.
func Baseline(ctx context.Context, task *Task, o BaselineOptions) (*Results, error) {
	if len(o.Seeds) == 0 {
		o.Seeds = []uint64{1, 2, 3}
	}
	if o.ValidFrac == 0 {
		o.ValidFrac = 0.1
	}
	_, T := lengths(task)
	if o.MaxLen > 0 {
		T = min(T, o.MaxLen)
	}
	type setting struct {
		f  evaluate.Features
		l2 float64
	}
	var grid []setting
	var label string
	switch o.Mode {
	case KmerBaselineMode:
		if len(o.Ks) == 0 {
			o.Ks = []int{1, 2, 3, 4, 5, 6}
		}
		for _, k := range o.Ks {
			grid = append(grid, setting{f: evaluate.KmerSpectrum{K: k}})
		}
		label = "k-mer logistic regression"
	case OneHotBaselineMode:
		if len(o.L2s) == 0 {
			o.L2s = []float64{1e-3, 1e-2, 1e-1}
		}
		for _, l2 := range o.L2s {
			grid = append(grid, setting{f: evaluate.OneHotPositions{Len: T}, l2: l2})
		}
		label = "one-hot positional logistic regression"
	default:
		return nil, fmt.Errorf("baseline %q: want %s or %s", o.Mode, KmerBaselineMode, OneHotBaselineMode)
	}
	crop := func(ex []Example) ([][]uint8, []int) {
		rows, ys := make([][]uint8, len(ex)), make([]int, len(ex))
		for i, e := range ex {
			rows[i], ys[i] = centreCrop(e.Seq, T), e.Label
		}
		return rows, ys
	}
	K := len(task.Classes)
	res := &Results{Task: task.Name, Source: task.Source, Split: task.Split, Classes: task.Classes, NTrain: len(task.Train),
		NTest: len(task.Test), ValidFrac: o.ValidFrac, Checkpoint: label, Mode: o.Mode, Seeds: o.Seeds,
		Attention: "none", SeqLen: T, Crop: CropRule, Options: o}
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
		var best *evaluate.Classifier
		for _, g := range grid {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			c, err := evaluate.FitClassifier(trX, trY, K, g.f, evaluate.ClassifierConfig{L2: g.l2})
			if err != nil {
				return nil, fmt.Errorf("%s on %s, seed %d: %w", label, task.Name, seed, err)
			}
			a, err := evaluate.Accuracy(vaY, c.Predict(vaX))
			if err != nil {
				return nil, err
			}
			if a > sr.ValidAccuracy {
				sr.ValidAccuracy, best = a, c
				if ks, ok := g.f.(evaluate.KmerSpectrum); ok {
					sr.K = ks.K
				} else {
					sr.L2 = g.l2
				}
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

// AddBaselines puts every baseline of BaselineModes, under the seeds,
// MaxTrain, MaxTest and crop of o, into r.Baselines: each network row then
// has the rows it must beat beside it.
func AddBaselines(ctx context.Context, task *Task, r *Results, o Options) error {
	for _, mode := range BaselineModes {
		b, err := Baseline(ctx, task, BaselineOptions{Mode: mode, Seeds: r.Seeds, ValidFrac: r.ValidFrac, MaxTrain: o.MaxTrain,
			MaxTest: o.MaxTest, MaxLen: r.SeqLen})
		if err != nil {
			return err
		}
		r.Baselines = append(r.Baselines, b)
	}
	return nil
}
