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
	"slices"
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
	From  string   // checkpoint or run directory
	Seeds []uint64 // one fine-tuning run per seed
	Batch int      // examples per step (default 32)
	// Heads and LRs are the grid searched per seed: one fine-tuning run per
	// head and backbone peak learning rate, the one with the lowest valid
	// loss kept (default: DefaultHeads, DefaultLRs). One of each fixes them.
	Heads  []string
	LRs    []float64
	HeadLR float64 // head learning rate (default 10 x the backbone's)
	// Warmup steps of a linear warm-up, then a cosine decay to 10% over
	// Epochs epochs.
	Warmup      int
	WeightDecay float64
	Epochs      int // at most this many passes over the train part (default 10)
	MaxSteps    int // and at most this many steps (0: no limit)
	// EvalEvery steps the valid part is scored (0: once per epoch).
	EvalEvery int
	// Training stops after Patience evaluations without a lower valid loss,
	// but not before MinEpochs epochs: the loss, not the accuracy, because
	// on a valid part of a hundred rows the accuracy moves in steps of 1%
	// and ties, and early stopping then follows its noise.
	Patience  int     // default 3
	MinEpochs int     // default 3 (at most Epochs)
	ValidFrac float64 // held out of the train part per seed (default 0.1)
	// MaxTrain caps the rows of the task's train part a seed uses (0: all):
	// a stratified sample of MaxTrain rows by SplitIndex with the seed, taken
	// before the train/valid split. It sets the scale of a study that cannot
	// afford the whole training set.
	MaxTrain int
	// MaxTest caps the test rows scored (0: all): Subsample(test, MaxTest,
	// TestSeed), the same rows for every seed, model and the baselines.
	MaxTest int
	MaxLen  int  // crop length (0: the model's seq_len)
	RC      bool // reverse-complement augmentation of training rows (probability 1/2)
	Raw     bool // start from the trained weights even when the checkpoint has an EMA
	Stderr  io.Writer
}

// The default grid of Run (RESULTS.md, "Downstream tasks": on the demo's
// human_or_worm the mean head reaches 0.67 and the conv head 0.92, on
// aligned promoters the flat head sees what the one-hot baseline sees).
// HeadFlat is tried only on fixed-length tasks.
var (
	DefaultHeads = []string{HeadConv, HeadFlat}
	DefaultLRs   = []float64{1e-4, 1e-3}
)

func (o *Options) defaults() {
	if o.Batch == 0 {
		o.Batch = 32
	}
	if len(o.LRs) == 0 {
		o.LRs = DefaultLRs
	}
	if o.Epochs == 0 {
		o.Epochs = 10
	}
	if o.Patience == 0 {
		o.Patience = 3
	}
	if o.MinEpochs == 0 {
		o.MinEpochs = 3
	}
	o.MinEpochs = min(o.MinEpochs, o.Epochs)
	if o.ValidFrac == 0 {
		o.ValidFrac = 0.1
	}
	if len(o.Seeds) == 0 {
		o.Seeds = []uint64{1, 2, 3, 4, 5}
	}
}

// SeedResult is one seed's fine-tuning: the grid point with the lowest
// valid loss, scored on test.
type SeedResult struct {
	Seed          uint64  `json:"seed"`
	Accuracy      float64 `json:"accuracy"`
	MCC           float64 `json:"mcc"`
	F1            float64 `json:"f1"`
	Head          string  `json:"head,omitempty"` // the network's head (chosen on valid unless given)
	LR            float64 `json:"lr,omitempty"`   // the network's peak learning rate (chosen on valid unless given)
	ValidLoss     float64 `json:"best_valid_loss,omitempty"`
	ValidAccuracy float64 `json:"best_valid_accuracy"`
	BestStep      int     `json:"best_step"`
	TrainRows     int     `json:"train_rows"` // rows trained on (after MaxTrain and the valid split)
	ValidRows     int     `json:"valid_rows"`
	K             int     `json:"k,omitempty"`  // the k-mer baseline's word length (chosen on valid)
	L2            float64 `json:"l2,omitempty"` // the one-hot baseline's penalty (chosen on valid)
	Steps         int     `json:"steps"`
	Seconds       float64 `json:"seconds"`        // the whole seed, every grid point
	Grid          []Trial `json:"grid,omitempty"` // every grid point tried
}

// Trial is one grid point of a seed.
type Trial struct {
	Head          string  `json:"head"`
	LR            float64 `json:"lr"`
	ValidLoss     float64 `json:"best_valid_loss"`
	ValidAccuracy float64 `json:"valid_accuracy"` // at the best valid loss
	BestStep      int     `json:"best_step"`
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
	// Baselines are the network-free rows on the same rows and splits
	// (AddBaselines), where the run computed them.
	Baselines []*Results `json:"baselines,omitempty"`
}

// TestSeed is the Subsample seed of a capped test part (Options.MaxTest).
const TestSeed = 0x74657374

// CropRule documents how lengths are fitted to the model.
const CropRule = "centre crop to seq_len (start (len-seq_len)/2); shorter rows padded with [PAD], masked out of attention keys and the pool"

// Run fine-tunes the checkpoint o.From on task once per seed and scores the
// chosen weights on the test part. A cancelled ctx stops it between steps
// with ctx's error.
//
// Per seed: the train part is split by SplitIndex(labels, ValidFrac, seed)
// into train and valid. For each head and learning rate of the grid, the
// backbone (its own attention: causal for ar, bidirectional otherwise) and
// a fresh head are trained with AdamW, the valid loss is measured every
// EvalEvery steps, the weights with the lowest are kept, and training
// stops after Patience evaluations without improvement (not before
// MinEpochs). The grid point with the lowest valid loss is the seed's
// result, scored on test.
func Run(ctx context.Context, be compute.Backend, task *Task, o Options) (*Results, error) {
	o.defaults()
	if o.Batch < 1 || o.Epochs < 1 || o.Patience < 1 || o.MinEpochs < 0 || o.ValidFrac <= 0 || o.ValidFrac >= 1 {
		return nil, errors.New("finetune: batch, epochs and patience must be >= 1, valid fraction in (0,1)")
	}
	if err := CheckGrid(o.Heads, o.LRs); err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	cfg, err := nn.ReadConfig(nn.CheckpointPath(o.From))
	if err != nil {
		return nil, err
	}
	T := cfg.SeqLen
	if o.MaxLen > 0 {
		T = min(T, o.MaxLen)
	}
	shortest, longest := lengths(task)
	T = min(T, longest)
	if len(o.Heads) == 0 {
		o.Heads = []string{HeadConv}
		if shortest >= T { // every row fills the T positions: aligned by the centre crop
			o.Heads = DefaultHeads
		}
	}
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
		t0 := time.Now()
		tr, va := TrainValid(task.Train, o.MaxTrain, o.ValidFrac, seed)
		var sr SeedResult
		var trials []Trial
		for _, head := range o.Heads {
			for _, lr := range o.LRs {
				r, ema, err := runTrial(ctx, be, task, tr, va, o, T, seed, head, lr)
				if err != nil {
					return nil, fmt.Errorf("finetune %s on %s, seed %d, head %s, lr %g: %w", o.From, task.Name, seed, head, lr, err)
				}
				res.EMA = ema
				if trials = append(trials, r.Grid...); len(trials) == 1 || r.ValidLoss < sr.ValidLoss {
					sr = r
				}
			}
		}
		sr.Grid = trials
		sr.Seconds = math.Round(time.Since(t0).Seconds()*100) / 100
		if o.Stderr != nil && len(sr.Grid) > 1 {
			fmt.Fprintf(o.Stderr, "  seed %d: head %s, lr %g chosen on valid loss %.4f (valid accuracy %.4f); test accuracy %.4f\n",
				seed, sr.Head, sr.LR, sr.ValidLoss, sr.ValidAccuracy, sr.Accuracy)
		}
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

// runTrial is one grid point of one seed: fine-tuning on tr with early
// stopping on va, then the best weights scored on the test part. The
// result's Grid holds this one Trial.
func runTrial(ctx context.Context, be compute.Backend, task *Task, tr, va []Example, o Options, T int, seed uint64, head string, lr float64) (SeedResult, bool, error) {
	t0 := time.Now()
	sr := SeedResult{Seed: seed, Head: head, LR: lr, TrainRows: len(tr), ValidRows: len(va)}
	m, _, ema, err := nn.LoadModel(be, o.From, !o.Raw)
	if err != nil {
		return sr, false, err
	}
	defer m.Free()
	m.EnableTraining()
	K := len(task.Classes)
	clf, err := NewClassifier(m, head, K, T, m.Cfg.Causal(), seed)
	if err != nil {
		return sr, ema, err
	}
	defer clf.Free()
	oc := nn.DefaultAdamW()
	oc.WeightDecay = float32(o.WeightDecay)
	opt := nn.NewOptimizer(m, oc)
	defer opt.Free()
	headLR := o.HeadLR
	if headLR == 0 {
		headLR = 10 * lr
	}

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
	minSteps := perEpoch * o.MinEpochs
	rng := rand.New(rand.NewPCG(seed, 0x6674756e65))
	tokens, mask := make([]int32, B*T), make([]int32, B*T)
	rc := make([]bool, B)
	batch := make([]Example, 0, B)
	ys := make([]int, 0, B)
	best, bestAcc := math.Inf(1), 0.0
	var bestP, bestHead []float32
	bad := 0
	step := 0
train:
	for {
		order := rng.Perm(len(tr))
		for lo := 0; lo+B <= len(order); lo += B {
			if err := ctx.Err(); err != nil {
				return sr, ema, err // interrupted: no result for this seed
			}
			batch, ys = batch[:0], ys[:0]
			for _, i := range order[lo : lo+B] {
				batch = append(batch, tr[i])
				ys = append(ys, tr[i].Label)
			}
			n := len(batch)
			for i := range n {
				// Never for HeadFlat: flipping a row moves the aligned site
				// its weights are tied to.
				rc[i] = o.RC && head != HeadFlat && rng.IntN(2) == 1
			}
			Pack(batch, T, m.Cfg.PadID, rc[:n], tokens[:n*T], mask[:n*T])
			if _, err := clf.Forward(tokens[:n*T], mask[:n*T], n); err != nil {
				return sr, ema, err
			}
			loss, err := clf.Loss(ys, true)
			if err != nil {
				return sr, ema, err
			}
			f := train.LR(step, o.Warmup, horizon, 1, 0.1)
			st, err := opt.Update(m, float32(f*lr))
			if err != nil {
				return sr, ema, err
			}
			if !st.Skipped && !math.IsNaN(loss) {
				clf.StepHead(float32(f*headLR), float32(o.WeightDecay))
			}
			step++
			if step%evalEvery == 0 || step == horizon {
				vl, vacc, err := clf.score(va, B, m.Cfg.PadID)
				if err != nil {
					return sr, ema, err
				}
				if o.Stderr != nil {
					fmt.Fprintf(o.Stderr, "  seed %d %s lr %g step %d/%d loss %.4f valid loss %.4f accuracy %.4f\n", seed, head, lr, step, horizon, loss, vl, vacc)
				}
				if vl < best {
					best, bestAcc, bad, sr.BestStep = vl, vacc, 0, step
					bestP = m.ParamsHost()
					bestHead = clf.headParams()
				} else if bad++; bad >= o.Patience && step >= minSteps {
					break train
				}
			}
			if step >= horizon {
				break train
			}
		}
	}
	sr.Steps, sr.ValidLoss, sr.ValidAccuracy = step, best, bestAcc
	if bestP == nil {
		return sr, ema, errors.New("the valid loss was never finite")
	}
	if err := m.SetParams(bestP); err != nil {
		return sr, ema, err
	}
	clf.setHeadParams(bestHead)
	truth, pred, _, err := clf.predictAll(task.Test, B, m.Cfg.PadID)
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
	sec := math.Round(time.Since(t0).Seconds()*100) / 100
	sr.Seconds = sec
	sr.Grid = []Trial{{Head: head, LR: lr, ValidLoss: best, ValidAccuracy: bestAcc, BestStep: sr.BestStep, Steps: step, Seconds: sec}}
	return sr, ema, nil
}

// score is the mean cross-entropy and the accuracy of ex.
func (c *Classifier) score(ex []Example, B, padID int) (loss, acc float64, err error) {
	truth, pred, loss, err := c.predictAll(ex, B, padID)
	if err != nil {
		return 0, 0, err
	}
	acc, err = evaluate.Accuracy(truth, pred)
	return loss, acc, err
}

// predictAll classifies ex in batches of B; loss is the mean
// cross-entropy.
func (c *Classifier) predictAll(ex []Example, B, padID int) (truth, pred []int, loss float64, err error) {
	// Every forward pass has B rows (the model keeps activations per batch
	// shape): a last short batch is filled up with copies of its first row,
	// whose predictions are dropped.
	tokens, mask := make([]int32, B*c.T), make([]int32, B*c.T)
	buf := make([]Example, B)
	sum := 0.0
	for lo := 0; lo < len(ex); lo += B {
		hi := min(lo+B, len(ex))
		n := copy(buf, ex[lo:hi])
		for i := n; i < B; i++ {
			buf[i] = ex[lo]
		}
		Pack(buf, c.T, padID, nil, tokens, mask)
		if _, err := c.Forward(tokens, mask, B); err != nil {
			return nil, nil, 0, err
		}
		pred = append(pred, c.Predict(B)[:n]...)
		ys := make([]int, 0, n)
		for _, e := range ex[lo:hi] {
			ys = append(ys, e.Label)
		}
		l, err := c.Loss(ys, false) // the first n rows' mean
		if err != nil {
			return nil, nil, 0, err
		}
		sum += l * float64(n)
		truth = append(truth, ys...)
	}
	if len(ex) > 0 {
		loss = sum / float64(len(ex))
	}
	return truth, pred, loss, nil
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
// standard deviation [min, max] over seeds of accuracy, MCC and macro F1,
// the heads and learning rates the seeds chose, and a flag on every network
// row whose mean accuracy is below the best baseline row of its task
// (baselines in rs or in a result's Baselines).
func Markdown(rs []*Results) string {
	var all []*Results
	for _, r := range rs {
		all = append(all, r)
		all = append(all, r.Baselines...)
	}
	best := map[string]*Results{}
	for _, r := range all {
		if slices.Contains(BaselineModes, r.Mode) && (best[r.Task] == nil || r.Accuracy.Mean > best[r.Task].Accuracy.Mean) {
			best[r.Task] = r
		}
	}
	var b strings.Builder
	b.WriteString("| task | model | mode | seeds | accuracy | MCC | macro F1 | head, lr (per seed) | vs best baseline |\n|---|---|---|---|---|---|---|---|---|\n")
	f := func(s Stat) string { return fmt.Sprintf("%.3f ± %.3f [%.3f, %.3f]", s.Mean, s.Std, s.Min, s.Max) }
	for _, r := range all {
		var chose []string
		for _, sr := range r.PerSeed {
			switch {
			case sr.Head != "":
				chose = append(chose, fmt.Sprintf("%s %g", sr.Head, sr.LR))
			case sr.K > 0:
				chose = append(chose, fmt.Sprintf("k %d", sr.K))
			case sr.L2 > 0:
				chose = append(chose, fmt.Sprintf("L2 %g", sr.L2))
			}
		}
		vs := "-"
		if bl := best[r.Task]; bl != nil && !slices.Contains(BaselineModes, r.Mode) {
			d := r.Accuracy.Mean - bl.Accuracy.Mean
			vs = fmt.Sprintf("%+.3f vs %s", d, bl.Mode)
			if d < 0 {
				vs = "**below** " + vs
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %s | %s | %s | %s | %s |\n", r.Task, r.Checkpoint, r.Mode, len(r.Seeds), f(r.Accuracy), f(r.MCC), f(r.F1),
			strings.Join(chose, "; "), vs)
	}
	return b.String()
}
