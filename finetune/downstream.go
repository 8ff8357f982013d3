package finetune

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/seqdiff/seqdiff/internal/atomicfile"

	"github.com/seqdiff/seqdiff/compute"
	"github.com/seqdiff/seqdiff/evaluate"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/train"
)

// Options configure downstream fine-tuning of one checkpoint on one task.
type Options struct {
	From   string   // checkpoint or run directory
	Seeds  []uint64 // one fine-tuning run per seed
	Batch  int      // examples per step (default 32)
	LR     float64  // backbone and head peak learning rate (default 1e-4)
	HeadLR float64  // head learning rate (default 10 x LR)
	// Warmup steps of a linear warm-up, then a cosine decay to 10% over
	// Epochs epochs.
	Warmup      int
	WeightDecay float64
	Epochs      int // at most this many passes over the train part (default 10)
	MaxSteps    int // and at most this many steps (0: no limit)
	// EvalEvery steps the valid part is scored (0: once per epoch).
	EvalEvery int
	Patience  int     // evaluations without a better valid accuracy before stopping (default 3)
	ValidFrac float64 // held out of the train part per seed (default 0.1)
	// MaxTrain caps the rows of the task's train part a seed uses (0: all):
	// a stratified sample of MaxTrain rows by SplitIndex with the seed, taken
	// before the train/valid split. It sets the scale of a study that cannot
	// afford the whole training set.
	MaxTrain int
	// MaxTest caps the test rows scored (0: all): Subsample(test, MaxTest,
	// TestSeed), the same rows for every seed, model and the k-mer baseline.
	MaxTest int
	MaxLen  int  // crop length (0: the model's seq_len)
	RC      bool // reverse-complement augmentation of training rows (probability 1/2)
	Raw     bool // start from the trained weights even when the checkpoint has an EMA
	Stderr  io.Writer
}

func (o *Options) defaults() {
	if o.Batch == 0 {
		o.Batch = 32
	}
	if o.LR == 0 {
		o.LR = 1e-4
	}
	if o.HeadLR == 0 {
		o.HeadLR = 10 * o.LR
	}
	if o.Epochs == 0 {
		o.Epochs = 10
	}
	if o.Patience == 0 {
		o.Patience = 3
	}
	if o.ValidFrac == 0 {
		o.ValidFrac = 0.1
	}
	if len(o.Seeds) == 0 {
		o.Seeds = []uint64{1, 2, 3, 4, 5}
	}
}

// SeedResult is one seed's fine-tuning run.
type SeedResult struct {
	Seed          uint64  `json:"seed"`
	Accuracy      float64 `json:"accuracy"`
	MCC           float64 `json:"mcc"`
	F1            float64 `json:"f1"`
	ValidAccuracy float64 `json:"best_valid_accuracy"`
	BestStep      int     `json:"best_step"`
	TrainRows     int     `json:"train_rows"` // rows trained on (after MaxTrain and the valid split)
	ValidRows     int     `json:"valid_rows"`
	K             int     `json:"k,omitempty"` // the k-mer baseline's word length (chosen on valid)
	Steps         int     `json:"steps"`
	Seconds       float64 `json:"seconds"`
}

// Stat is a score's mean, sample standard deviation, min and max over seeds.
type Stat struct {
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
}

// Results is RUNDIR/results.json.
type Results struct {
	Task       string       `json:"task"`
	Source     string       `json:"source"`
	Split      string       `json:"split"`
	Classes    []string     `json:"classes"`
	NTrain     int          `json:"n_train"`
	NTest      int          `json:"n_test"`
	ValidFrac  float64      `json:"valid_frac"`
	Checkpoint string       `json:"checkpoint"`
	Mode       string       `json:"mode"`
	Attention  string       `json:"attention"`
	EMA        bool         `json:"ema"`
	SeqLen     int          `json:"seq_len"`
	Crop       string       `json:"crop"`
	Seeds      []uint64     `json:"seeds"`
	Accuracy   Stat         `json:"accuracy"`
	MCC        Stat         `json:"mcc"`
	F1         Stat         `json:"f1"`
	PerSeed    []SeedResult `json:"per_seed"`
	Options    any          `json:"options"`
}

// TestSeed is the Subsample seed of a capped test part (Options.MaxTest).
const TestSeed = 0x74657374

// CropRule documents how lengths are fitted to the model.
const CropRule = "centre crop to seq_len (start (len-seq_len)/2); shorter rows padded with [PAD], masked out of attention keys and the pool"

// Run fine-tunes the checkpoint o.From on task once per seed and scores the
// best-on-valid weights on the test part. A cancelled ctx stops it between
// steps with ctx's error.
//
// Per seed: the train part is split by SplitIndex(labels, ValidFrac, seed)
// into train and valid; the backbone (its own attention: causal for ar,
// bidirectional otherwise) and a fresh head are trained with AdamW on the
// mean-pooled hidden states, the valid accuracy is measured every
// EvalEvery steps, the weights with the best one are kept, and training
// stops after Patience evaluations without improvement.
func Run(ctx context.Context, be compute.Backend, task *Task, o Options) (*Results, error) {
	o.defaults()
	if o.Batch < 1 || o.Epochs < 1 || o.Patience < 1 || o.ValidFrac <= 0 || o.ValidFrac >= 1 || o.LR <= 0 {
		return nil, errors.New("finetune: batch, epochs and patience must be >= 1, lr > 0, valid fraction in (0,1)")
	}
	cfg, err := nn.ReadConfig(nn.CheckpointPath(o.From))
	if err != nil {
		return nil, err
	}
	T := cfg.SeqLen
	if o.MaxLen > 0 {
		T = min(T, o.MaxLen)
	}
	longest := 0
	for _, e := range append(append([]Example(nil), task.Train...), task.Test...) {
		longest = max(longest, len(e.Seq))
	}
	T = min(T, longest)
	res := &Results{Task: task.Name, Source: task.Source, Split: task.Split, Classes: task.Classes, NTrain: len(task.Train),
		NTest: len(task.Test), ValidFrac: o.ValidFrac, Checkpoint: o.From, Mode: cfg.Mode, SeqLen: T, Crop: CropRule, Seeds: o.Seeds,
		Attention: "bidirectional"}
	if cfg.Causal() {
		res.Attention = "causal"
	}
	opts := o
	opts.Stderr = nil
	res.Options = opts
	if o.MaxTest > 0 {
		t := *task
		t.Test = Subsample(task.Test, o.MaxTest, TestSeed)
		task = &t
		res.NTest = len(t.Test)
	}
	var acc, mcc, f1 []float64
	for _, seed := range o.Seeds {
		sr, ema, err := runSeed(ctx, be, task, o, T, seed)
		if err != nil {
			return nil, fmt.Errorf("finetune %s on %s, seed %d: %w", o.From, task.Name, seed, err)
		}
		res.EMA = ema
		res.PerSeed = append(res.PerSeed, sr)
		acc, mcc, f1 = append(acc, sr.Accuracy), append(mcc, sr.MCC), append(f1, sr.F1)
	}
	res.Accuracy, res.MCC, res.F1 = stat(acc), stat(mcc), stat(f1)
	return res, nil
}

func stat(xs []float64) Stat {
	s, err := evaluate.Summarize(xs)
	if err != nil {
		return Stat{Mean: math.NaN()}
	}
	return Stat{Mean: s.Mean, Std: s.Std, Min: s.Min, Max: s.Max}
}

// runSeed is one seed's fine-tuning.
func runSeed(ctx context.Context, be compute.Backend, task *Task, o Options, T int, seed uint64) (SeedResult, bool, error) {
	t0 := time.Now()
	sr := SeedResult{Seed: seed}
	m, _, ema, err := nn.LoadModel(be, o.From, !o.Raw)
	if err != nil {
		return sr, false, err
	}
	defer m.Free()
	m.EnableTraining()
	K := len(task.Classes)
	clf := NewClassifier(m, K, T, m.Cfg.Causal(), seed)
	defer clf.Free()
	oc := nn.DefaultAdamW()
	oc.WeightDecay = float32(o.WeightDecay)
	opt := nn.NewOptimizer(m, oc)
	defer opt.Free()

	tr, va := TrainValid(task.Train, o.MaxTrain, o.ValidFrac, seed)
	sr.TrainRows, sr.ValidRows = len(tr), len(va)
	B := min(o.Batch, len(tr))
	perEpoch := len(tr) / B // full batches only (the order is reshuffled every epoch)
	horizon := perEpoch * o.Epochs
	if o.MaxSteps > 0 {
		horizon = min(horizon, o.MaxSteps)
	}
	evalEvery := o.EvalEvery
	if evalEvery <= 0 {
		evalEvery = perEpoch
	}
	rng := rand.New(rand.NewPCG(seed, 0x6674756e65))
	tokens, mask := make([]int32, B*T), make([]int32, B*T)
	rc := make([]bool, B)
	batch := make([]Example, 0, B)
	ys := make([]int, 0, B)
	best, bestP, bestW, bestB := -1.0, []float32(nil), []float32(nil), []float32(nil)
	bad := 0
	step := 0
	valid := func() (float64, error) {
		truth, pred, err := clf.predictAll(va, B, m.Cfg.PadID)
		if err != nil {
			return 0, err
		}
		return evaluate.Accuracy(truth, pred)
	}
train:
	for {
		order := rng.Perm(len(tr))
		for lo := 0; lo+B <= len(order); lo += B {
			if err := ctx.Err(); err != nil {
				return sr, ema, err // interrupted: no result for this seed
			}
			hi := lo + B
			batch, ys = batch[:0], ys[:0]
			for _, i := range order[lo:hi] {
				batch = append(batch, tr[i])
				ys = append(ys, tr[i].Label)
			}
			n := len(batch)
			for i := range n {
				rc[i] = o.RC && rng.IntN(2) == 1
			}
			Pack(batch, T, m.Cfg.PadID, rc[:n], tokens[:n*T], mask[:n*T])
			if _, err := clf.Forward(tokens[:n*T], mask[:n*T], n); err != nil {
				return sr, ema, err
			}
			loss, err := clf.Loss(ys, true)
			if err != nil {
				return sr, ema, err
			}
			lr := train.LR(step, o.Warmup, horizon, o.LR, 0.1)
			st, err := opt.Update(m, float32(lr))
			if err != nil {
				return sr, ema, err
			}
			if !st.Skipped && !math.IsNaN(loss) {
				clf.StepHead(float32(lr*o.HeadLR/o.LR), float32(o.WeightDecay))
			}
			step++
			if step%evalEvery == 0 || step == horizon {
				acc, err := valid()
				if err != nil {
					return sr, ema, err
				}
				if o.Stderr != nil {
					fmt.Fprintf(o.Stderr, "  seed %d step %d/%d loss %.4f valid accuracy %.4f\n", seed, step, horizon, loss, acc)
				}
				if acc > best {
					best, bad, sr.BestStep = acc, 0, step
					bestP = m.ParamsHost()
					bestW, bestB = append(bestW[:0], clf.W...), append(bestB[:0], clf.Bias...)
				} else if bad++; bad >= o.Patience {
					break train
				}
			}
			if step >= horizon {
				break train
			}
		}
	}
	sr.Steps, sr.ValidAccuracy = step, best
	if err := m.SetParams(bestP); err != nil {
		return sr, ema, err
	}
	copy(clf.W, bestW)
	copy(clf.Bias, bestB)
	truth, pred, err := clf.predictAll(task.Test, B, m.Cfg.PadID)
	if err != nil {
		return sr, ema, err
	}
	if sr.Accuracy, err = evaluate.Accuracy(truth, pred); err != nil {
		return sr, ema, err
	}
	if sr.MCC, err = evaluate.MCC(truth, pred, K); err != nil {
		return sr, ema, err
	}
	if sr.F1, err = evaluate.MacroF1(truth, pred, K); err != nil {
		return sr, ema, err
	}
	sr.Seconds = math.Round(time.Since(t0).Seconds()*100) / 100
	return sr, ema, nil
}

// predictAll classifies ex in batches of B.
func (c *Classifier) predictAll(ex []Example, B, padID int) (truth, pred []int, err error) {
	// Every forward pass has B rows (the model keeps activations per batch
	// shape): a last short batch is filled up with copies of its first row,
	// whose predictions are dropped.
	tokens, mask := make([]int32, B*c.T), make([]int32, B*c.T)
	buf := make([]Example, B)
	for lo := 0; lo < len(ex); lo += B {
		hi := min(lo+B, len(ex))
		n := copy(buf, ex[lo:hi])
		for i := n; i < B; i++ {
			buf[i] = ex[lo]
		}
		Pack(buf, c.T, padID, nil, tokens, mask)
		if _, err := c.Forward(tokens, mask, B); err != nil {
			return nil, nil, err
		}
		pred = append(pred, c.Predict(B)[:n]...)
		for _, e := range ex[lo:hi] {
			truth = append(truth, e.Label)
		}
	}
	return truth, pred, nil
}

// WriteJSON writes r to path atomically (temporary file, fsync, rename).
func (r *Results) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'))
}

// ReadResults reads a results.json.
func ReadResults(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// Markdown is a table of results: one row per results, with mean ± sample
// standard deviation [min, max] over seeds of accuracy, MCC and macro F1.
func Markdown(rs []*Results) string {
	var b strings.Builder
	b.WriteString("| task | checkpoint | mode | seeds | accuracy | MCC | macro F1 |\n|---|---|---|---|---|---|---|\n")
	f := func(s Stat) string { return fmt.Sprintf("%.3f ± %.3f [%.3f, %.3f]", s.Mean, s.Std, s.Min, s.Max) }
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %s | %s | %s |\n", r.Task, r.Checkpoint, r.Mode, len(r.Seeds), f(r.Accuracy), f(r.MCC), f(r.F1))
	}
	return b.String()
}
