package train

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/seqdiff/seqdiff/dist"
	"github.com/seqdiff/seqdiff/evaluate"
	"github.com/seqdiff/seqdiff/internal/atomicfile"

	"github.com/seqdiff/seqdiff/compute"
	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/mdlm"
	"github.com/seqdiff/seqdiff/nn"
)

// File names inside a run directory.
const (
	MetricsFile = "metrics.jsonl"
	ConfigYAML  = "train.yaml"
)

// ErrInterrupted is returned by Run when its context was cancelled (SIGINT,
// SIGTERM): the current step finished and a checkpoint was written.
var ErrInterrupted = errors.New("training interrupted")

// StepResult reports one training step.
type StepResult struct {
	Loss     float64
	GradNorm float64
	LR       float64
	Skipped  bool // non-finite loss or gradient norm: no update
	Empty    bool // all-PAD batch: nothing to learn from
	Tokens   int  // non-PAD tokens of the step's clean rows
	// Allreduce is the time this rank spent in the step's host all-reduces
	// (the loss and, without device collectives, the gradients), waiting
	// for the slowest rank included; 0 for one process.
	Allreduce time.Duration
}

// Metric is one line of metrics.jsonl.
type Metric struct {
	Step       int      `json:"step"`
	Tokens     int64    `json:"tokens"`
	Loss       *float64 `json:"loss,omitempty"`
	LR         float64  `json:"lr"`
	GradNorm   *float64 `json:"grad_norm,omitempty"`
	TokensPerS float64  `json:"tokens_per_s"`
	ValidLoss  *float64 `json:"valid_loss,omitempty"`
	Skipped    string   `json:"skipped,omitempty"` // "non-finite" or "empty"
	Elapsed    float64  `json:"elapsed"`
	// AllreduceS is rank 0's StepResult.Allreduce in seconds (data-parallel
	// runs only): the step's communication and the wait for the slowest
	// rank. With NCCL the gradients' sum runs on the GPUs, queued, and
	// is not in it.
	AllreduceS *float64 `json:"allreduce_s,omitempty"`
}

// Trainer runs one training run.
type Trainer struct {
	Cfg    Config
	Model  *nn.Model
	Opt    *nn.Optimizer
	Stderr io.Writer // progress lines (nil: none)

	be     compute.Backend
	data   *Data
	stream Stream
	src    *rand.PCG
	rng    *rand.Rand
	step   int
	tokens int64
	bad    int // non-finite steps in a row
	// evaluated is the step whose valid loss is already in the log (-1:
	// none), so that a run resumed at its end does not score it again.
	evaluated int
	// horizon is the schedule's length in steps; a budget-only run's is 0
	// until its decay is planned, then decay.Start+decay.Steps.
	horizon int
	// decay is a budget-only run's planned decay (zero until planned).
	decay   decayPlan
	elapsed time.Duration // before this process
	started time.Time
	// now is the clock of elapsed time, ETA and the decay plan (time.Now;
	// tests set a fake one).
	now func() time.Time
	// step and tokens when this process's Run began: the ETA's rate is
	// this process's, not the whole run's (a resumed run's elapsed time
	// includes earlier processes, its steps counted here do not).
	startStep   int
	startTokens int64
	log         *os.File
	x0          []int32 // one step's clean rows: Accum micro-batches of Batch
	obj         *nn.Objective

	// comm is the data-parallel world (nil: one process): each rank runs
	// its share of every step's rows, the gradients are summed over the
	// ranks, and rank 0 alone writes the run directory.
	comm *dist.Comm
	// CheckEvery is how often (steps) the ranks of a data-parallel run
	// compare a checksum of their weights (0: only at the end).
	CheckEvery int

	// afterBackward, when set (tests only), runs between backward and the
	// optimizer step: it is how a test poisons the gradients.
	afterBackward func(*nn.Model)
}

// rngStream is the PCG stream of the corruption (masking, t) generator.
const rngStream = 0x7261696e

// New prepares a run in cfg.Out on be: a fresh one (the directory must not
// hold a checkpoint yet) or, with resume, the continuation of its
// checkpoint. The caller holds the run directory's Lock.
func New(be compute.Backend, cfg Config, data *Data, resume bool) (*Trainer, error) {
	return NewDist(be, cfg, data, resume, nil)
}

// NewDist is New for one rank of a data-parallel run over comm (nil: one
// process, as New). Every rank reads the whole step's rows and corrupts
// them with the same generator (so the step's normaliser and MDLM's times
// are those of one process), then runs its Batch/size rows of each
// micro-batch: rank r rows r*Batch/size … (r+1)*Batch/size-1. The
// gradients, each already over the whole step's normaliser, are summed
// with one all-reduce: the step is the one-process step, up to float
// rounding. Rank 0 alone writes the run directory; the other ranks read
// its checkpoint on --resume (a shared file system), so a run resumes at
// any world size.
func NewDist(be compute.Backend, cfg Config, data *Data, resume bool, comm *dist.Comm) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if n := comm.Size(); cfg.Batch%n != 0 {
		return nil, fmt.Errorf("batch %d over %d ranks: the batch (the global batch, split between the ranks) must be a multiple of the number of ranks", cfg.Batch, n)
	}
	lead := comm.Rank() == 0
	mc, err := cfg.ModelConfig(data.SeqLen)
	if err != nil {
		return nil, err
	}
	if data.Tokenizer != "" && data.Tokenizer != mc.Tokenizer {
		// The presets carry the DNA vocabulary; text data brings its own.
		mc.VocabSize, mc.MaskID, mc.PadID, mc.Tokenizer = data.VocabSize, data.MaskID, data.PadID, data.Tokenizer
		if err := mc.Validate(); err != nil {
			return nil, fmt.Errorf("data %s: %w", cfg.Data, err)
		}
	}
	if err := CheckData(mc, cfg.Data, data.VocabSize, data.MaskID, data.PadID, data.SeqLen); err != nil {
		return nil, err
	}
	if !lead {
		// Rank 0 makes the run dir and recovers its checkpoint first.
		if err := comm.Barrier(); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, fmt.Errorf("run dir %s: %w", cfg.Out, err)
	}
	t := &Trainer{Cfg: cfg, be: be, data: data, horizon: cfg.Horizon(cfg.StepRows() * data.SeqLen), now: time.Now, comm: comm}
	if cfg.BudgetOnly() {
		t.horizon = 0 // until the decay is planned
	}
	t.Model, err = nn.New(be, mc)
	if err != nil {
		return nil, err
	}
	t.Model.Init(cfg.Seed)
	t.Model.EnableTraining()
	oc := nn.DefaultAdamW()
	oc.LR, oc.ClipNorm, oc.WeightDecay, oc.EMADecay = float32(cfg.LR), cfg.ClipNorm, float32(cfg.WeightDecay), float32(cfg.EMA)
	t.Opt = nn.NewOptimizer(t.Model, oc)
	t.src = rand.NewPCG(cfg.Seed, rngStream)
	t.rng = rand.New(t.src)
	ckDir := filepath.Join(cfg.Out, nn.CheckpointDir)
	metricsPath := filepath.Join(cfg.Out, MetricsFile)
	var cursor dataprep.Cursor
	var offset int64
	// A run killed inside a checkpoint write leaves temporaries, or its
	// checkpoint under the aside name: put it back before looking for it.
	if lead {
		if err := RecoverCheckpoint(ckDir); err != nil {
			return nil, err
		}
		if comm.Size() > 1 {
			if err := comm.Barrier(); err != nil {
				return nil, err
			}
		}
	}
	if resume {
		if cursor, offset, err = t.restore(ckDir); err != nil {
			return nil, err
		}
	} else if _, err := os.Stat(filepath.Join(ckDir, nn.ConfigFile)); err == nil {
		return nil, fmt.Errorf("run dir %s already holds a checkpoint: pass --resume to continue it, or choose another --out", cfg.Out)
	}
	if t.stream, err = data.Train(cursor); err != nil {
		return nil, err
	}
	t.x0 = make([]int32, cfg.StepRows()*data.SeqLen)
	t.obj = nn.NewObjective(mc)
	t.obj.TimeSampling = mdlm.TimeSampling(cfg.TSampling)
	// GPU ranks sum their gradients with NCCL (nothing on the CPU).
	if err := comm.AttachDevice(be); err != nil {
		return nil, err
	}
	if !lead {
		return t, nil // silent: no metrics log, no train.yaml
	}
	// The metrics log continues exactly after the checkpoint's last line.
	t.log, err = os.OpenFile(metricsPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("run dir %s: %w", cfg.Out, err)
	}
	// An offset past the log's end would pad it with NUL bytes.
	if fi, err := t.log.Stat(); err == nil && offset > fi.Size() {
		t.log.Close()
		return nil, fmt.Errorf("resume: %s has %d bytes, but the checkpoint's %s says its last step ends at byte %d (a metrics log from another run, or cut short?)",
			metricsPath, fi.Size(), nn.StateFile, offset)
	}
	if err := t.log.Truncate(offset); err != nil {
		return nil, fmt.Errorf("%s: %w", metricsPath, err)
	}
	if _, err := t.log.Seek(offset, io.SeekStart); err != nil {
		return nil, fmt.Errorf("%s: %w", metricsPath, err)
	}
	t.evaluated = -1
	if resume {
		if m, ok := lastMetric(t.log, offset); ok && m.ValidLoss != nil && m.Step == t.step {
			t.evaluated = t.step
		}
	}
	y, err := cfg.YAML()
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(cfg.Out, ConfigYAML), y); err != nil {
		t.log.Close()
		return nil, fmt.Errorf("%w; %s%s", err, diskHint(err), t.lastGood())
	}
	return t, nil
}

// restore loads ckDir into the model, the optimizer and the loop state.
func (t *Trainer) restore(ckDir string) (dataprep.Cursor, int64, error) {
	var cur dataprep.Cursor
	ck, err := nn.LoadCheckpoint(ckDir)
	if errors.Is(err, fs.ErrNotExist) {
		return cur, 0, fmt.Errorf("resume: run dir %s has no checkpoint yet (%s); start it without --resume", t.Cfg.Out, ckDir)
	}
	if err != nil {
		return cur, 0, fmt.Errorf("resume: %w", err)
	}
	mc := t.Model.Cfg
	got := ck.Config
	if got.VocabSize != mc.VocabSize || got.DModel != mc.DModel || got.NLayers != mc.NLayers || got.NHeads != mc.NHeads ||
		got.SeqLen != mc.SeqLen || got.Mode != mc.Mode {
		return cur, 0, fmt.Errorf("resume %s: checkpoint is %s d%d x%d h%d L%d, the configuration asks for %s d%d x%d h%d L%d",
			ckDir, got.Mode, got.DModel, got.NLayers, got.NHeads, got.SeqLen, mc.Mode, mc.DModel, mc.NLayers, mc.NHeads, mc.SeqLen)
	}
	// A checkpoint without t_sampling predates it: its times were systematic.
	was, _ := ck.Config.Training["t_sampling"].(string)
	if was = cmp.Or(was, string(mdlm.Systematic)); mc.Mode == nn.ModeMDLM && t.Cfg.TSampling != was {
		return cur, 0, fmt.Errorf("resume %s: the run's times were drawn by t_sampling %s, the configuration asks for %s: a resumed run keeps its objective (set t_sampling to %s, or start a new run directory)",
			ckDir, was, t.Cfg.TSampling, was)
	}
	if err := t.Model.SetParams(ck.Params); err != nil {
		return cur, 0, err
	}
	if err := ck.Restore(t.Opt); err != nil {
		return cur, 0, fmt.Errorf("resume %s: %w", ckDir, err)
	}
	var st state
	raw, _ := json.Marshal(ck.State)
	if err := json.Unmarshal(raw, &st); err != nil {
		return cur, 0, fmt.Errorf("resume %s: %s: %v", ckDir, nn.StateFile, err)
	}
	if st.RNG == "" {
		return cur, 0, fmt.Errorf("resume %s: %s is missing or incomplete", ckDir, nn.StateFile)
	}
	if st.Step < 0 || st.Tokens < 0 || st.BadStreak < 0 || st.MetricsOffset < 0 || !(st.ElapsedS >= 0 && st.ElapsedS <= math.MaxInt64/1e9) {
		return cur, 0, fmt.Errorf("resume %s: %s holds a negative or impossible count (step %d, tokens %d, bad_streak %d, metrics_offset %d, elapsed_s %g)",
			ckDir, nn.StateFile, st.Step, st.Tokens, st.BadStreak, st.MetricsOffset, st.ElapsedS)
	}
	if d := st.decayPlan; d.Start < 0 || d.Steps < 0 || d.Start > st.Step || (d.Steps == 0) != (d.Start == 0) || !(d.StartS >= 0 && d.StartS <= math.MaxInt64/1e9) {
		return cur, 0, fmt.Errorf("resume %s: %s holds an impossible decay plan (decay_start %d, decay_steps %d, decay_start_elapsed_s %g at step %d, elapsed_s %g)",
			ckDir, nn.StateFile, d.Start, d.Steps, d.StartS, st.Step, st.ElapsedS)
	}
	b, err := base64.StdEncoding.DecodeString(st.RNG)
	if err == nil {
		err = t.src.UnmarshalBinary(b)
	}
	if err != nil {
		return cur, 0, fmt.Errorf("resume %s: rng state: %v", ckDir, err)
	}
	t.step, t.tokens, t.bad = st.Step, st.Tokens, st.BadStreak
	t.elapsed = time.Duration(st.ElapsedS * float64(time.Second))
	// A budget-only run whose decay began continues it as planned (its
	// schedule is a function of the step from there); a run resumed with
	// --max-steps or --max-tokens follows their cosine instead.
	if t.Cfg.BudgetOnly() && st.decayPlan.Steps > 0 {
		t.decay = st.decayPlan
		t.horizon = t.decay.Start + t.decay.Steps
	}
	return st.Cursor, st.MetricsOffset, nil
}

// decayPlan is when a budget-only run's linear decay began and how long it
// lasts (in state.json; absent before it begins): steps Start+1 ..
// Start+Steps (1-based, as in metrics.jsonl) decay, the last one at
// MinLRFrac*LR, and the run stops after it.
type decayPlan struct {
	Start  int     `json:"decay_start,omitempty"`           // steps taken when the decay began (S)
	StartS float64 `json:"decay_start_elapsed_s,omitempty"` // the run's elapsed seconds then
	Steps  int     `json:"decay_steps,omitempty"`           // its length N
}

// state is state.json.
type state struct {
	Step          int             `json:"step"`
	Tokens        int64           `json:"tokens"`
	RNG           string          `json:"rng"` // PCG state, base64 of MarshalBinary
	Cursor        dataprep.Cursor `json:"cursor"`
	MetricsOffset int64           `json:"metrics_offset"`
	ElapsedS      float64         `json:"elapsed_s"`
	BadStreak     int             `json:"bad_streak"`
	Horizon       int             `json:"horizon"`
	decayPlan
}

// Step is the number of optimizer steps taken (each drew Accum batches).
func (t *Trainer) Step() int { return t.step }

// Tokens is the number of non-PAD training tokens seen.
func (t *Trainer) Tokens() int64 { return t.tokens }

// Horizon is the learning-rate schedule's length in steps: for a
// budget-only run 0 until its decay is planned (the steps are unknown
// until then), then the step at which the decay completes.
func (t *Trainer) Horizon() int { return t.horizon }

// BatchString says what a step trains on, for a banner: "batch 8 x 1024",
// with accumulation "batch 8 x 1024 x accum 4 (32 rows per step)".
func (t *Trainer) BatchString() string {
	c := t.Cfg
	s := fmt.Sprintf("batch %d x %d", c.Batch, t.data.SeqLen)
	if c.Accum > 1 {
		s += fmt.Sprintf(" x accum %d (%d rows per step)", c.Accum, c.StepRows())
	}
	return s
}

// Schedule says how long the schedule runs, for a banner: "horizon 2000
// steps", or for a budget-only run its time budget and shape, with the
// decay's steps once planned.
func (t *Trainer) Schedule() string {
	c := t.Cfg
	if !c.BudgetOnly() {
		return fmt.Sprintf("horizon %d steps", t.horizon)
	}
	s := fmt.Sprintf("horizon: time budget %s, warm-up %d steps, then constant, linear decay over the last %g%%", c.TimeBudget, c.Warmup, 100*c.DecayFrac)
	if d := t.decay; d.Steps > 0 {
		s += fmt.Sprintf(" (steps %d-%d, from %s)", d.Start+1, d.Start+d.Steps, secs(d.StartS))
	}
	return s
}

// lr is the learning rate of step (0-based): the cosine of LR over the
// horizon, or for a budget-only run WSD with the planned decay.
func (t *Trainer) lr(step int) float64 {
	c := t.Cfg
	if c.BudgetOnly() {
		return WSD(step, c.Warmup, t.decay.Start, t.decay.Steps, c.LR, c.MinLRFrac)
	}
	return LR(step, c.Warmup, t.horizon, c.LR, c.MinLRFrac)
}

// planDecay begins the decay of a budget-only run once its elapsed time
// has reached (1-DecayFrac) of the budget, after at least one step of this
// process: its length is the budget's remaining time over this process's
// time per step so far (evaluations and checkpoints included), at least
// one step. Once planned the plan is kept (and checkpointed).
func (t *Trainer) planDecay() {
	c := t.Cfg
	if !c.BudgetOnly() || t.decay.Steps > 0 || t.step <= t.startStep {
		return
	}
	now := t.now()
	elapsed, budget := t.elapsedAt(now), time.Duration(c.TimeBudget)
	if float64(elapsed) < (1-c.DecayFrac)*float64(budget) {
		return
	}
	per := now.Sub(t.started).Seconds() / float64(t.step-t.startStep)
	n := 1
	if left := (budget - elapsed).Seconds(); left > 0 && per > 0 {
		n = int(math.Max(1, math.Min(math.Round(left/per), 1e9)))
	}
	t.decay = decayPlan{Start: t.step, StartS: elapsed.Seconds(), Steps: n}
	t.horizon = t.step + n
	if t.Stderr != nil {
		fmt.Fprintf(t.Stderr, "step %d: %s of the time budget %s spent: the learning rate decays linearly to %.2e over steps %d-%d (%d steps at %s each)\n",
			t.step, elapsed.Round(time.Millisecond), c.TimeBudget, c.MinLRFrac*c.LR, t.step+1, t.horizon, n, secs(per))
	}
}

// secs is a duration of s seconds, rounded for display.
func secs(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d >= time.Minute:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// Close releases the metrics log and the model's memory.
func (t *Trainer) Close() error {
	err := t.comm.DetachDevice()
	t.Opt.Free()
	t.Model.Free()
	if t.log == nil { // a data-parallel rank other than 0
		return err
	}
	if lerr := t.log.Close(); err == nil {
		err = lerr
	}
	return err
}

// TrainStep runs one optimizer step on the clean rows x0 (Accum x Batch
// rows of SeqLen) with the scheduled learning rate of the current step, and
// advances the step. The rows are corrupted together (nn.Objective: MDLM's
// times drawn over all of them, one normaliser over all of them),
// then run through the model Batch rows at a time, the gradients summed by
// Backward: so the step is that of one batch of Accum x Batch rows, up to
// float rounding, with the activations of Batch rows.
func (t *Trainer) TrainStep(x0 []int32) (StepResult, error) {
	c := t.Cfg
	r := StepResult{LR: t.lr(t.step)}
	for _, id := range x0 {
		if int(id) != t.Model.Cfg.PadID {
			r.Tokens++
		}
	}
	t.step++
	t.tokens += int64(r.Tokens)
	li, err := t.obj.Inputs(x0, c.StepRows(), t.data.SeqLen, t.rng)
	if err != nil {
		return r, fmt.Errorf("step %d: %w", t.step, err)
	}
	if li.Norm == 0 {
		r.Empty = true // nothing to learn from: no forward, no update, never a 0/0
		return r, nil
	}
	t.Model.ZeroGrad()
	if t.comm.Size() > 1 {
		return t.distStep(li, r)
	}
	for k := range c.Accum {
		loss, err := t.Model.Loss(li.Rows(k*c.Batch, c.Batch), nil, true)
		if err != nil {
			return r, fmt.Errorf("step %d, micro-batch %d: %w", t.step, k+1, err)
		}
		r.Loss += loss // each is over the whole step's Norm: they add up to its loss
		if math.IsNaN(r.Loss) || math.IsInf(r.Loss, 0) {
			r.Skipped, r.GradNorm = true, math.NaN()
			return r, nil
		}
		if err := t.Model.Backward(); err != nil {
			return r, fmt.Errorf("step %d: %w", t.step, err)
		}
	}
	return t.update(r)
}

// distStep is TrainStep's forward, backward and update on one rank of a
// data-parallel run: this rank's rows of each micro-batch, then the loss
// and the gradients summed over the ranks (each is over the whole step's
// normaliser, so the sums are the one-process step's), then the same
// update on every rank. A non-finite loss on any rank skips the step on
// all of them.
func (t *Trainer) distStep(li nn.LossInputs, r StepResult) (StepResult, error) {
	c := t.Cfg
	n := c.Batch / t.comm.Size()
	off := t.comm.Rank() * n
	for k := range c.Accum {
		loss, err := t.Model.Loss(li.Rows(k*c.Batch+off, n), nil, true)
		if err != nil {
			return r, fmt.Errorf("step %d, micro-batch %d: %w", t.step, k+1, err)
		}
		r.Loss += loss
		if err := t.Model.Backward(); err != nil {
			return r, fmt.Errorf("step %d: %w", t.step, err)
		}
	}
	t0 := time.Now()
	sum := []float64{r.Loss}
	if err := t.comm.AllreduceF64(sum); err != nil {
		return r, fmt.Errorf("step %d: loss all-reduce: %w", t.step, err)
	}
	r.Loss = sum[0]
	if math.IsNaN(r.Loss) || math.IsInf(r.Loss, 0) {
		r.Skipped, r.GradNorm = true, math.NaN()
		return r, nil
	}
	if err := t.comm.AllreduceTensor(t.be, t.Model.Grads()); err != nil {
		return r, fmt.Errorf("step %d: gradient all-reduce: %w", t.step, err)
	}
	r.Allreduce = time.Since(t0)
	return t.update(r)
}

// update runs the optimizer step on the step's gradients.
func (t *Trainer) update(r StepResult) (StepResult, error) {
	c := t.Cfg
	if t.afterBackward != nil {
		t.afterBackward(t.Model)
	}
	if c.EMA > 0 { // warmed-up EMA decay (TF ExponentialMovingAverage num_updates)
		n := float64(t.Opt.Step)
		t.Opt.Cfg.EMADecay = float32(math.Min(c.EMA, (1+n)/(10+n)))
	}
	st, err := t.Opt.Update(t.Model, float32(r.LR))
	if err != nil {
		return r, fmt.Errorf("step %d: %w", t.step, err)
	}
	r.GradNorm, r.Skipped = st.GradNorm, st.Skipped
	return r, nil
}

// Evaluate scores the first EvalRows rows of the valid split with the EMA
// weights when EMA is on (the weights that are saved for use), else the
// raw weights: exact NLL per token for ar, the NELBO per token (K =
// EvalSamples, fixed seed) for mdlm, the masked-token CE for mlm.
func (t *Trainer) Evaluate() (evaluate.NLL, error) {
	if t.data.Valid == nil {
		return evaluate.NLL{}, errors.New("evaluate: no valid split")
	}
	p := t.Model.Params()
	var keep compute.F32
	if ema := t.Opt.EMA(); ema.N != 0 {
		keep = t.be.Alloc(p.N)
		defer t.be.Free(keep)
		t.be.Copy(keep, p)
		t.be.Copy(p, ema)
		defer t.be.Copy(p, keep)
	}
	return Evaluate(t.Model, t.data.Valid, t.data.SeqLen, EvalOptions{Batch: t.Cfg.Batch, MaxRows: t.Cfg.EvalRows, Draws: t.Cfg.EvalSamples, Seed: t.Cfg.Seed + 1})
}

// Save writes the checkpoint (weights, EMA, moments, state.json, the
// resolved configuration as config.json's "training") atomically to
// RUNDIR/checkpoint, after syncing the metrics log whose length it records.
func (t *Trainer) Save() error {
	if t.log == nil { // a data-parallel rank other than 0 writes nothing
		return nil
	}
	if err := t.log.Sync(); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	off, err := t.log.Seek(0, io.SeekCurrent)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	rb, err := t.src.MarshalBinary()
	if err != nil {
		return err
	}
	st := state{Step: t.step, Tokens: t.tokens, RNG: base64.StdEncoding.EncodeToString(rb), Cursor: t.stream.Cursor(),
		MetricsOffset: off, ElapsedS: t.elapsedNow().Seconds(), BadStreak: t.bad, Horizon: t.horizon, decayPlan: t.decay}
	sm, err := toMap(st)
	if err != nil {
		return err
	}
	ck := nn.Snapshot(t.Model, t.Opt, sm)
	if ck.Config.Training, err = toMap(t.Cfg); err != nil {
		return err
	}
	return ck.Save(filepath.Join(t.Cfg.Out, nn.CheckpointDir))
}

// lastGood says where the last checkpoint is, for errors that did not
// write one.
func (t *Trainer) lastGood() string {
	ckDir := filepath.Join(t.Cfg.Out, nn.CheckpointDir)
	if _, err := os.Stat(filepath.Join(ckDir, nn.ConfigFile)); err == nil {
		return "the last good checkpoint stays in " + ckDir
	}
	return "no checkpoint was written yet"
}

// streakStop is the error of a run that stops (why) while its last steps
// were non-finite: the weights may be what made them so, so the last good
// checkpoint is kept rather than replaced by them.
func (t *Trainer) streakStop(why string) error {
	return fmt.Errorf("step %d: %s after %d non-finite steps in a row; no checkpoint written, %s", t.step, why, t.bad, t.lastGood())
}

// checkpoint is Save with an error that says what still holds: Save
// replaces the checkpoint only once the new one is complete, so after a
// failed write (a full disk) the previous one is intact.
func (t *Trainer) checkpoint() error {
	err := t.Save()
	if err == nil {
		return nil
	}
	ckDir := filepath.Join(t.Cfg.Out, nn.CheckpointDir)
	prev := "no earlier checkpoint exists"
	if _, serr := os.Stat(filepath.Join(ckDir, nn.ConfigFile)); serr == nil {
		prev = "the previous checkpoint in " + ckDir + " is intact (resume from it with --resume)"
	}
	return fmt.Errorf("step %d: checkpoint not written: %w; %s%s", t.step, err, diskHint(err), prev)
}

func toMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

func (t *Trainer) elapsedNow() time.Duration { return t.elapsedAt(t.now()) }

// elapsedAt is the run's elapsed training time at now: earlier processes'
// and this one's since Run began.
func (t *Trainer) elapsedAt(now time.Time) time.Duration {
	if t.started.IsZero() {
		return t.elapsed
	}
	return t.elapsed + now.Sub(t.started)
}

// stopReason says why the run is complete, or "".
func (t *Trainer) stopReason() string {
	c := t.Cfg
	switch {
	case c.MaxSteps > 0 && t.step >= c.MaxSteps:
		return fmt.Sprintf("reached max steps %d", c.MaxSteps)
	case c.MaxTokens > 0 && t.tokens >= c.MaxTokens:
		return fmt.Sprintf("reached max tokens %d", c.MaxTokens)
	case c.BudgetOnly():
		return t.budgetStop()
	case c.TimeBudget > 0 && t.elapsedNow() >= time.Duration(c.TimeBudget):
		return fmt.Sprintf("time budget %s spent", c.TimeBudget)
	}
	return ""
}

// budgetStop is stopReason for a budget-only run: its decay is complete,
// or (a safety stop) its elapsed time passed (1+DecayFrac) x the budget
// before that.
func (t *Trainer) budgetStop() string {
	c, d := t.Cfg, t.decay
	if d.Steps > 0 && t.step >= d.Start+d.Steps {
		return fmt.Sprintf("learning-rate decay complete (time budget %s; the decay began at step %d)", c.TimeBudget, d.Start)
	}
	el := t.elapsedNow()
	if float64(el) < (1+c.DecayFrac)*float64(c.TimeBudget) {
		return ""
	}
	s := fmt.Sprintf("time budget %s overrun by %g%% (elapsed %s) ", c.TimeBudget, 100*c.DecayFrac, secs(el.Seconds()))
	if d.Steps > 0 {
		return s + fmt.Sprintf("before the learning-rate decay was complete (step %d of %d): stopped anyway", t.step, d.Start+d.Steps)
	}
	return s + "before the learning-rate decay began: stopped anyway"
}

// Run trains until a stopping rule holds, evaluating every EvalEvery
// steps, checkpointing every CkptEvery steps and at the end. A cancelled
// ctx finishes the current step, checkpoints and returns ErrInterrupted.
// MaxBadSteps non-finite steps in a row return an error without a
// checkpoint.
func (t *Trainer) Run(ctx context.Context) (string, error) {
	t.started, t.startStep, t.startTokens = t.now(), t.step, t.tokens
	c := t.Cfg
	last := t.started
	lastTokens := t.tokens
	lead := t.comm.Rank() == 0
	if err := t.checkRanks(); err != nil {
		return "", err
	}
	for {
		why, stop := t.stopReason(), ctx.Err() != nil
		if t.comm.Size() > 1 {
			var err error
			if why, stop, err = t.agree(why, stop); err != nil {
				return "", err
			}
		}
		if why != "" {
			if t.bad > 0 {
				return "", t.streakStop(why)
			}
			if err := t.checkRanks(); err != nil {
				return "", err
			}
			if lead && c.EvalEvery > 0 && t.data.Valid != nil && t.evaluated != t.step && t.step > 0 {
				if _, err := t.logEval(); err != nil {
					return "", err
				}
			}
			return why, t.checkpoint()
		}
		if stop {
			if t.bad > 0 {
				return "", t.streakStop("interrupted")
			}
			if err := t.checkpoint(); err != nil {
				return "", err
			}
			return "", ErrInterrupted
		}
		// Accum micro-batches: the data cursor moves by Accum x Batch rows.
		for k, n := 0, c.Batch*t.data.SeqLen; k < c.Accum; k++ {
			if err := t.stream.Next(t.x0[k*n : (k+1)*n]); err != nil {
				return "", err
			}
		}
		r, err := t.TrainStep(t.x0)
		if err != nil {
			return "", err
		}
		now := t.now()
		m := Metric{Step: t.step, Tokens: t.tokens, LR: r.LR, Elapsed: round3(t.elapsedAt(now).Seconds())}
		if dt := now.Sub(last).Seconds(); dt > 0 {
			m.TokensPerS = math.Round(float64(t.tokens-lastTokens) / dt)
		}
		last, lastTokens = now, t.tokens
		if t.comm.Size() > 1 {
			a := round6(r.Allreduce.Seconds())
			m.AllreduceS = &a
		}
		switch {
		case r.Empty:
			m.Skipped = "empty"
		case r.Skipped:
			m.Skipped = "non-finite"
			t.bad++
			if t.Stderr != nil {
				fmt.Fprintf(t.Stderr, "step %d: loss %v, gradient norm %v: update skipped (%d in a row)\n", t.step, r.Loss, r.GradNorm, t.bad)
			}
		default:
			t.bad = 0
			l, g := r.Loss, r.GradNorm
			m.Loss, m.GradNorm = &l, &g
		}
		if m.Loss != nil || m.Skipped == "empty" {
			t.bad = 0
		}
		if lead && c.EvalEvery > 0 && t.data.Valid != nil && t.step%c.EvalEvery == 0 && t.bad == 0 {
			res, err := t.Evaluate()
			if err != nil {
				return "", err
			}
			v := res.PerToken()
			m.ValidLoss = &v
			t.evaluated = t.step
		}
		if err := t.writeMetric(m); err != nil {
			return "", err
		}
		if t.bad >= c.MaxBadSteps {
			return "", fmt.Errorf("step %d: %d steps in a row had a non-finite loss or gradient norm (lr %.3g); stopped without a checkpoint, %s",
				t.step, t.bad, r.LR, t.lastGood())
		}
		if t.Stderr != nil && c.LogEvery > 0 && (t.step%c.LogEvery == 0 || m.ValidLoss != nil) {
			t.progress(m)
		}
		if t.CheckEvery > 0 && t.step%t.CheckEvery == 0 {
			if err := t.checkRanks(); err != nil {
				return "", err
			}
		}
		// Planned before this step's checkpoint, so that a resume from it
		// continues the same decay (by rank 0 alone: the others take its
		// plan at the next step's agreement).
		if lead {
			t.planDecay()
		}
		if c.CkptEvery > 0 && t.step%c.CkptEvery == 0 && t.bad == 0 {
			if err := t.checkpoint(); err != nil {
				return "", err
			}
		}
	}
}

// logEval evaluates and appends a metrics line holding only the valid loss.
func (t *Trainer) logEval() (float64, error) {
	res, err := t.Evaluate()
	if err != nil {
		return 0, err
	}
	v := res.PerToken()
	m := Metric{Step: t.step, Tokens: t.tokens, LR: t.lr(max(t.step-1, 0)),
		ValidLoss: &v, Elapsed: round3(t.elapsedNow().Seconds())}
	if t.Stderr != nil {
		t.progress(m)
	}
	return v, t.writeMetric(m)
}

func (t *Trainer) writeMetric(m Metric) error {
	if t.log == nil { // a data-parallel rank other than 0
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if _, err := t.log.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("step %d: %s: %w; %s%s", t.step, t.log.Name(), err, diskHint(err), t.lastGood())
	}
	return nil
}

// diskHint names the likely cause of a failed write, or is "".
func diskHint(err error) string {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EFBIG) {
		return "the disk is full or a size limit was hit; "
	}
	return ""
}

// progress prints a line: step, loss, valid loss, tokens/s, ETA.
func (t *Trainer) progress(m Metric) {
	s := fmt.Sprintf("step %d/%d", m.Step, t.horizon)
	if t.horizon == 0 { // budget-only, the decay not yet planned
		s = fmt.Sprintf("step %d (time budget %s)", m.Step, t.Cfg.TimeBudget)
	}
	if m.Loss != nil {
		s += fmt.Sprintf("  loss %.4f", *m.Loss)
	}
	if m.ValidLoss != nil {
		s += fmt.Sprintf("  valid %.4f", *m.ValidLoss)
	}
	s += fmt.Sprintf("  lr %.2e  %.0f tok/s  elapsed %s", m.LR, m.TokensPerS, time.Duration(m.Elapsed*float64(time.Second)).Round(time.Second))
	if eta := t.eta(); eta > 0 {
		s += "  eta " + eta.Round(time.Second).String()
	}
	fmt.Fprintln(t.Stderr, s)
}

// eta estimates the time to the first stopping rule from this process's
// rates: steps and tokens per second since Run began (a resumed run's
// earlier steps took place in other processes, at other speeds).
func (t *Trainer) eta() time.Duration {
	c, now := t.Cfg, t.now()
	if c.BudgetOnly() && t.decay.Steps > 0 {
		// The planned decay's steps left, or the safety stop if sooner.
		c.MaxSteps, c.TimeBudget = t.horizon, Duration((1+c.DecayFrac)*float64(c.TimeBudget))
	}
	return etaLeft(c, now.Sub(t.started), t.step-t.startStep, t.tokens-t.startTokens, t.step, t.tokens, t.elapsedAt(now))
}

// etaLeft is the time left when this process has run for run, taking
// steps steps and tokens tokens of the run's step and tok so far, and the
// run has spent elapsed of its time budget; 0 when unknown.
func etaLeft(c Config, run time.Duration, steps int, tokens int64, step int, tok int64, elapsed time.Duration) time.Duration {
	if steps <= 0 || run <= 0 {
		return 0
	}
	left := time.Duration(math.MaxInt64)
	if c.MaxSteps > 0 {
		left = min(left, time.Duration(float64(run)/float64(steps)*float64(max(c.MaxSteps-step, 0))))
	}
	if c.MaxTokens > 0 && tokens > 0 {
		left = min(left, time.Duration(float64(run)/float64(tokens)*float64(max(c.MaxTokens-tok, 0))))
	}
	if c.TimeBudget > 0 {
		left = min(left, max(time.Duration(c.TimeBudget)-elapsed, 0))
	}
	if left == time.Duration(math.MaxInt64) {
		return 0
	}
	return left
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }

// lastMetric parses the last line of the first size bytes of the metrics
// log f (ok false when there is none or it does not parse).
func lastMetric(f *os.File, size int64) (Metric, bool) {
	var m Metric
	start := max(size-4096, 0)
	buf := make([]byte, size-start)
	if _, err := f.ReadAt(buf, start); err != nil && err != io.EOF {
		return m, false
	}
	buf = bytes.TrimRight(buf, "\n")
	if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
		buf = buf[i+1:]
	} else if start > 0 {
		return m, false
	}
	return m, len(buf) > 0 && json.Unmarshal(buf, &m) == nil
}

// agreement is what rank 0 decides for every rank before each step: the
// decisions that depend on its clock or its signals (the time budget, a
// budget-only run's decay plan, an interrupt), so that the ranks never
// take different steps.
type agreement struct {
	Why     string    `json:"why,omitempty"`
	Stop    bool      `json:"stop,omitempty"`
	Decay   decayPlan `json:"decay"`
	Horizon int       `json:"horizon"`
}

// agreeSize is the broadcast agreement's fixed size in bytes.
const agreeSize = 4096

// agree broadcasts rank 0's stop reason, interrupt and decay plan; every
// rank returns rank 0's and adopts its plan.
func (t *Trainer) agree(why string, stop bool) (string, bool, error) {
	buf := make([]byte, agreeSize)
	if t.comm.Rank() == 0 {
		b, err := json.Marshal(agreement{Why: why, Stop: stop, Decay: t.decay, Horizon: t.horizon})
		if err != nil {
			return "", false, err
		}
		if len(b) > agreeSize {
			return "", false, fmt.Errorf("step %d: rank agreement of %d bytes exceeds %d", t.step, len(b), agreeSize)
		}
		copy(buf, b)
	}
	if err := t.comm.Bcast(buf, 0); err != nil {
		return "", false, fmt.Errorf("step %d: %w", t.step, err)
	}
	var a agreement
	if err := json.Unmarshal(bytes.TrimRight(buf, "\x00"), &a); err != nil {
		return "", false, fmt.Errorf("step %d: rank 0's agreement: %v", t.step, err)
	}
	t.decay, t.horizon = a.Decay, a.Horizon
	return a.Why, a.Stop, nil
}

// WeightsChecksum is a hash (FNV-1a, 64 bits) of the raw weights' bits.
func (t *Trainer) WeightsChecksum() uint64 {
	p := t.Model.Params()
	w := p.Host
	if w == nil {
		w = make([]float32, p.N)
		t.be.Download(w, p)
	}
	h := uint64(14695981039346656037)
	for _, x := range w[:p.N] {
		h = (h ^ uint64(math.Float32bits(x))) * 1099511628211
	}
	return h
}

// checkRanks compares every rank's weights checksum with rank 0's: a
// data-parallel run whose ranks' weights differ (a rank that read another
// checkpoint, non-deterministic arithmetic) stops with an error on every
// rank. Nothing for one process.
func (t *Trainer) checkRanks() error {
	n := t.comm.Size()
	if n == 1 {
		return nil
	}
	mine := t.WeightsChecksum()
	buf := make([]byte, 8)
	for i := range 8 {
		buf[i] = byte(mine >> (8 * i))
	}
	if err := t.comm.Bcast(buf, 0); err != nil {
		return fmt.Errorf("step %d: %w", t.step, err)
	}
	var lead uint64
	for i := range 8 {
		lead |= uint64(buf[i]) << (8 * i)
	}
	bad := make([]float64, n)
	if mine != lead {
		bad[t.comm.Rank()] = 1
	}
	if err := t.comm.AllreduceF64(bad); err != nil {
		return fmt.Errorf("step %d: %w", t.step, err)
	}
	var ranks []string
	for r, b := range bad {
		if b != 0 {
			ranks = append(ranks, fmt.Sprint(r))
		}
	}
	if len(ranks) > 0 {
		sums := fmt.Sprintf("rank 0's weights checksum %016x", lead)
		if mine != lead {
			sums = fmt.Sprintf("checksum %016x on rank %d, %016x on rank 0", mine, t.comm.Rank(), lead)
		}
		return fmt.Errorf("step %d: the weights of rank(s) %s differ from rank 0's (%s): the ranks diverged; stopped, %s",
			t.step, strings.Join(ranks, ", "), sums, t.lastGood())
	}
	return nil
}
