package experiment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/seqdiff/seqdiff/internal/atomicfile"
	"github.com/seqdiff/seqdiff/vocab"

	"gopkg.in/yaml.v3"

	"github.com/seqdiff/seqdiff/compute"
	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/evaluate"
	"github.com/seqdiff/seqdiff/finetune"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/plots"
	"github.com/seqdiff/seqdiff/train"
)

// Options say where and how a study runs.
type Options struct {
	Out     string          // the study directory
	Backend compute.Backend // where the models run
	Log     io.Writer       // progress lines and the trainers' output
}

// study is one run of a study config.
type study struct {
	cfg    Config
	out    string
	log    io.Writer // progress lines and the trainers' output
	quiet  io.Writer // the trainers' own lines (log, or discarded)
	t0     time.Time
	stage  int
	stages int
	be     compute.Backend
}

// Run runs the study of cfg in o.Out, stage by stage, one progress line a
// stage on o.Log, skipping the stages whose output exists. A cancelled ctx
// stops it at a clean point (a training stage checkpoints first); running
// it again resumes.
func Run(ctx context.Context, cfg Config, o Options) error {
	out, err := filepath.Abs(o.Out)
	if err != nil {
		return err
	}
	if err := Stamp(out, cfg); err != nil {
		return err
	}
	unlock, err := train.Lock(out)
	if err != nil {
		return fmt.Errorf("study: %w", err)
	}
	defer unlock()
	// A study killed inside an atomic write leaves its temporary file beside
	// the target; the stage that wrote it runs again, so it can go.
	for _, d := range append([]string{out}, studySubdirs(out)...) {
		if _, err := atomicfile.Sweep(d); err != nil {
			return fmt.Errorf("study dir %s: %w", d, err)
		}
	}
	s := &study{cfg: cfg, out: out, log: o.Log, quiet: o.Log, t0: time.Now(), be: o.Backend}
	return s.run(ctx)
}

// stampFile in a study directory holds the resolved config of its study.
const stampFile = "study.yaml"

// Stamp makes out a study directory of cfg: a new or empty directory
// gets study.yaml; an existing study must have been started with the same
// resolved configuration, so that skipped stages never mix two studies.
func Stamp(out string, cfg Config) error {
	want, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	p := filepath.Join(out, stampFile)
	got, err := os.ReadFile(p)
	switch {
	case err == nil:
		if string(got) != string(want) {
			return fmt.Errorf("study dir %s was started with another configuration (%s differs); choose another --out, or delete the directory to start over", out, p)
		}
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return err
	}
	if ents, err := os.ReadDir(out); err == nil && len(ents) > 0 {
		return fmt.Errorf("study dir %s is not empty and has no %s: choose another --out, or delete it", out, stampFile)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("study dir: %w", err)
	}
	return atomicfile.WriteFile(p, want)
}

// generative lists the models scored for perplexity and sampling: the
// fine-tuned modes, then the from-scratch ones.
func (s *study) generative() []string {
	if len(s.cfg.Models) > 0 {
		var ms []string
		for _, m := range s.cfg.Models {
			ms = append(ms, m.Name)
		}
		return ms
	}
	ms := append([]string(nil), s.cfg.Finetune.Modes...)
	if s.cfg.FromScratch {
		for _, m := range s.cfg.Finetune.Modes {
			ms = append(ms, m+"-scratch")
		}
	}
	return ms
}

func (s *study) models() string { return filepath.Join(s.out, "models") }

// given is the config's entry of a given checkpoint named name.
func (s *study) given(name string) (Model, bool) {
	for _, m := range s.cfg.Models {
		if m.Name == name {
			return m, true
		}
	}
	return Model{}, false
}

// ckpt is where model name's checkpoint is read: a given one where it is,
// else the study's OUT/models/NAME.
func (s *study) ckpt(name string) string {
	if m, ok := s.given(name); ok {
		return m.Ckpt
	}
	return filepath.Join(s.models(), name)
}

// runDir is the training run directory of model name (its metrics.jsonl,
// checkpoint/state.json), or "" when a given checkpoint sits outside one.
func (s *study) runDir(name string) string {
	m, ok := s.given(name)
	if !ok {
		return filepath.Join(s.models(), name)
	}
	ck := nn.CheckpointPath(m.Ckpt)
	if filepath.Base(ck) == nn.CheckpointDir {
		return filepath.Dir(ck)
	}
	return ""
}

// skipGiven reports (saying so) that training stages do not run because
// the config gives its models.
func (s *study) skipGiven(stage string) bool {
	if len(s.cfg.Models) == 0 {
		return false
	}
	s.progress(stage, "skipped: the config gives its models (%s)", strings.Join(s.generative(), ", "))
	return true
}

func (s *study) run(ctx context.Context) error {
	s.stages = 11
	steps := []struct {
		name string
		f    func(context.Context) error
	}{
		{"prep", s.prep}, {"tasks", s.tasks}, {"pretrain", s.pretrain}, {"finetune", s.finetune},
		{"scratch", s.scratch}, {"ppl", s.ppl}, {"downstream", s.downstream}, {"baseline", s.baseline}, {"bench", s.bench},
		{"plots", s.plots}, {"report", s.report},
	}
	for _, st := range steps {
		s.stage++
		if err := st.f(ctx); err != nil {
			return fmt.Errorf("study %s, stage %s: %w", s.out, st.name, err)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("study %s: interrupted; run the same command again to resume", s.out)
		}
	}
	s.progress("done", "report %s", filepath.Join(s.out, "report.md"))
	return nil
}

func (s *study) progress(stage, format string, a ...any) {
	fmt.Fprintf(s.log, "[%2d/%d %6s] %-10s %s\n", min(s.stage, s.stages), s.stages, time.Since(s.t0).Round(time.Second), stage, fmt.Sprintf(format, a...))
}

// skip reports whether path exists (the stage's output), saying so.
func (s *study) skip(stage, path string) bool {
	if _, err := os.Stat(path); err == nil {
		s.progress(stage, "skipped: %s exists", s.rel(path))
		return true
	}
	return false
}

func (s *study) rel(p string) string {
	if r, err := filepath.Rel(s.out, p); err == nil {
		return r
	}
	return p
}

func (s *study) prepDir() string {
	if s.cfg.Prep.Dir != "" {
		return s.cfg.Prep.Dir
	}
	return filepath.Join(s.out, "prep")
}

func (s *study) prep(ctx context.Context) error {
	dir := s.prepDir()
	if s.cfg.Prep.Dir != "" {
		m, err := dataprep.ReadManifest(dir)
		if err != nil {
			return fmt.Errorf("prep.dir: %w", err)
		}
		s.progress("prep", "given: %s (%s, rows of %d)", dir, m.Input.Path, m.SeqLen)
		return nil
	}
	if s.skip("prep", dir) {
		return nil
	}
	p := s.cfg.Prep
	opts := dataprep.Options{Fasta: p.Fasta, Out: dir, SeqLen: p.SeqLen, Stride: p.Stride, MaxN: p.MaxN, Block: p.Block,
		ValidChroms: p.ValidChroms, TestChroms: p.TestChroms}
	in := p.Fasta
	if in == "" {
		in = "the embedded human chr22 slice"
	}
	s.progress("prep", "%s -> %s (rows of %d)", in, s.rel(dir), p.SeqLen)
	m, err := dataprep.Prep(ctx, opts)
	if err != nil {
		return err
	}
	var parts []string
	for _, n := range []string{"train", "valid", "test"} {
		if sp := m.Splits[n]; sp != nil {
			parts = append(parts, fmt.Sprintf("%s %d", n, sp.Windows))
		}
	}
	s.progress("prep", "windows: %s", strings.Join(parts, ", "))
	return nil
}

func (s *study) taskFile(t Task) string { return filepath.Join(s.out, "tasks", t.Name+".tsv") }

func (s *study) tasks(context.Context) error {
	for _, t := range s.cfg.Tasks {
		if t.Builtin == "" {
			if _, err := os.Stat(t.Path); err != nil {
				return fmt.Errorf("task %s: %w", t.Name, err)
			}
			s.progress("tasks", "%s: %s", t.Name, t.Path)
			continue
		}
		p := s.taskFile(t)
		if s.skip("tasks", p) {
			continue
		}
		var sb strings.Builder
		n, err := finetune.HumanOrWorm(&sb, finetune.HumanOrWormOptions{PerClass: t.PerClass, Len: t.Len})
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := atomicfile.WriteFile(p, []byte(sb.String())); err != nil {
			return err
		}
		s.progress("tasks", "%s: %d windows from the embedded human chr22 and worm chrX slices -> %s", t.Name, n, s.rel(p))
	}
	return nil
}

// trainStage runs one training run into models/.NAME.partial (resuming it
// when it holds a checkpoint) and renames it to models/NAME when done.
func (s *study) trainStage(ctx context.Context, stage, name string, run func(ctx context.Context, dir string, resume bool) (*train.Trainer, string, error)) error {
	final := filepath.Join(s.models(), name)
	if s.skip(stage, final) {
		return nil
	}
	part := filepath.Join(s.models(), "."+name+".partial")
	// HasCheckpoint also puts back a checkpoint that a kill between the two
	// renames of a checkpoint write left aside.
	resume, err := train.HasCheckpoint(part)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := os.MkdirAll(part, 0o755); err != nil {
		return err
	}
	unlock, err := train.Lock(part)
	if err != nil {
		return err
	}
	t0 := time.Now()
	tr, why, err := run(ctx, part, resume)
	unlock()
	if tr != nil {
		defer tr.Close()
	}
	if errors.Is(err, train.ErrInterrupted) {
		return fmt.Errorf("%s interrupted at step %d (checkpoint kept in %s)", name, tr.Step(), s.rel(part))
	}
	if err != nil {
		return err
	}
	if err := os.Rename(part, final); err != nil {
		return err
	}
	s.progress(stage, "%s: %s at step %d, %.2fM tokens, %s -> %s", name, why, tr.Step(), float64(tr.Tokens())/1e6,
		time.Since(t0).Round(time.Second), s.rel(final))
	return nil
}

// pretrainRun is seqdiff pretrain on the study's prep directory.
func (s *study) pretrainRun(mode string) func(context.Context, string, bool) (*train.Trainer, string, error) {
	return func(ctx context.Context, dir string, resume bool) (*train.Trainer, string, error) {
		cfg := s.cfg.Pretrain
		cfg.Mode, cfg.Data, cfg.Out = mode, s.prepDir(), dir
		if cfg.Threads == 0 {
			cfg.Threads = s.cfg.Threads
		}
		data, err := train.OpenData(cfg.Data, cfg.Batch, cfg.Seed, cfg.RC)
		if err != nil {
			return nil, "", err
		}
		tr, err := train.New(s.be, cfg, data, resume)
		if err != nil {
			return nil, "", err
		}
		tr.Stderr = s.quiet
		s.progress("pretrain", "%s: %d params, %s, %s (from step %d) in %s", mode, tr.Model.NumParams(), tr.BatchString(),
			tr.Schedule(), tr.Step(), s.rel(dir))
		why, err := tr.Run(ctx)
		return tr, why, err
	}
}

func (s *study) pretrain(ctx context.Context) error {
	if s.skipGiven("pretrain") {
		return nil
	}
	return s.trainStage(ctx, "pretrain", s.cfg.Pretrain.Mode, s.pretrainRun(s.cfg.Pretrain.Mode))
}

func (s *study) finetune(ctx context.Context) error {
	if s.skipGiven("finetune") {
		return nil
	}
	from := filepath.Join(s.models(), s.cfg.Pretrain.Mode)
	for _, mode := range s.cfg.Finetune.Modes {
		err := s.trainStage(ctx, "finetune", mode, func(ctx context.Context, dir string, resume bool) (*train.Trainer, string, error) {
			cfg := s.cfg.Finetune.Config
			cfg.Mode, cfg.Data, cfg.Out = mode, s.prepDir(), dir
			if cfg.Threads == 0 {
				cfg.Threads = s.cfg.Threads
			}
			s.progress("finetune", "%s from %s, %d steps at lr %.2g (from step 0 or its checkpoint) in %s", mode, s.rel(from), cfg.MaxSteps, cfg.LR, s.rel(dir))
			why, tr, err := finetune.Generative(ctx, s.be, finetune.GenerativeOptions{From: from, Cfg: cfg, Resume: resume, Stderr: s.quiet})
			return tr, why, err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *study) scratch(ctx context.Context) error {
	if s.skipGiven("scratch") {
		return nil
	}
	if !s.cfg.FromScratch {
		s.progress("scratch", "skipped: from_scratch is off")
		return nil
	}
	for _, mode := range s.cfg.Finetune.Modes {
		if err := s.trainStage(ctx, "scratch", mode+"-scratch", s.pretrainRun(mode)); err != nil {
			return err
		}
	}
	return nil
}

func (s *study) ppl(context.Context) error {
	c := s.cfg.PPL
	for _, name := range s.generative() {
		dir := filepath.Join(s.models(), name)
		p := filepath.Join(dir, plots.PPLFile)
		if s.skip("ppl", p) {
			continue
		}
		m, _, ema, err := nn.LoadModel(s.be, s.ckpt(name), true)
		if err != nil {
			return err
		}
		nll, err := train.Perplexity(m, s.prepDir(), c.Split, train.EvalOptions{Batch: max(c.Batch, 1), MaxRows: c.MaxRows, Draws: max(c.Samples, 1)})
		mode := m.Cfg.Mode
		m.Free()
		if err != nil {
			return fmt.Errorf("model %s: %w", name, err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		rep := evaluate.NewReport(nll, s.ckpt(name), mode, c.Split)
		rep.EMA = ema
		if err := rep.WriteJSON(p); err != nil {
			return err
		}
		s.progress("ppl", "%s: %s", name, rep.Summary(s.unit()))
	}
	return nil
}

// unit is what one token of the study's prep is: a base, or a text token.
func (s *study) unit() string {
	if m, err := dataprep.ReadManifest(s.prepDir()); err == nil && m.Tokenizer != vocab.DNATokenizer {
		return "token"
	}
	return "base"
}

func (s *study) downstreamModels() []string {
	if len(s.cfg.Downstream.Models) > 0 {
		return s.cfg.Downstream.Models
	}
	return s.generative()
}

func (s *study) loadTask(t Task) (*finetune.Task, error) {
	lo := finetune.LoadOptions{Path: t.Path, Test: t.Test, SeqCol: t.SeqCol, LabelCol: t.LabelCol, Genome: t.Genome, Name: t.Name}
	if t.Builtin != "" {
		lo.Path = s.taskFile(t)
	}
	return finetune.Load(lo)
}

func (s *study) downstream(ctx context.Context) error {
	d := s.cfg.Downstream
	for _, t := range s.cfg.Tasks {
		var task *finetune.Task
		for _, name := range s.downstreamModels() {
			dir := filepath.Join(s.models(), name, "tasks", t.Name)
			p := filepath.Join(dir, plots.ResultsFile)
			if s.skip("downstream", p) {
				continue
			}
			if task == nil {
				var err error
				if task, err = s.loadTask(t); err != nil {
					return err
				}
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			t0 := time.Now()
			s.progress("downstream", "%s on %s: %d train, %d test, seeds %v", name, t.Name, len(task.Train), len(task.Test), d.Seeds)
			lrs := d.LRs
			if d.LR > 0 {
				lrs = []float64{d.LR}
			}
			res, err := finetune.Run(ctx, s.be, task, finetune.Options{From: s.ckpt(name), Seeds: d.Seeds, Batch: d.Batch,
				LRs: lrs, Heads: d.Heads, HeadLR: d.HeadLR, Warmup: d.Warmup, WeightDecay: d.WeightDecay, Epochs: d.Epochs, MaxSteps: d.MaxSteps,
				EvalEvery: d.EvalEvery, Patience: d.Patience, MinEpochs: d.MinEpochs, MaxLen: d.MaxLen, MaxTrain: d.MaxTrain, MaxTest: d.MaxTest,
				RC: d.RC, Stderr: s.quiet})
			if err != nil {
				return err
			}
			if err := atomicfile.WriteFile(filepath.Join(dir, "results.md"), []byte(finetune.Markdown([]*finetune.Results{res}))); err != nil {
				return err
			}
			if err := res.WriteJSON(p); err != nil {
				return err
			}
			var chose []string
			for _, sr := range res.PerSeed {
				chose = append(chose, fmt.Sprintf("%s %g", sr.Head, sr.LR))
			}
			s.progress("downstream", "%s on %s: accuracy %.3f (min %.3f, max %.3f), MCC %.3f, F1 %.3f, chose %s, %s", name, t.Name, res.Accuracy.Mean,
				res.Accuracy.Min, res.Accuracy.Max, res.MCC.Mean, res.F1.Mean, strings.Join(chose, "; "), time.Since(t0).Round(time.Second))
		}
	}
	return nil
}

func (s *study) bench(context.Context) error {
	p := filepath.Join(s.out, "bench", plots.BenchFile)
	if s.skip("bench", p) {
		return nil
	}
	var mdlmDir, arDir string
	if len(s.cfg.Models) > 0 {
		for _, m := range s.cfg.Models {
			mc, err := nn.ReadConfig(nn.CheckpointPath(m.Ckpt))
			if err != nil {
				return err
			}
			switch {
			case mc.Mode == nn.ModeMDLM && mdlmDir == "":
				mdlmDir = m.Ckpt
			case mc.Mode == nn.ModeAR && arDir == "":
				arDir = m.Ckpt
			}
		}
	}
	for _, m := range s.cfg.Finetune.Modes {
		if len(s.cfg.Models) > 0 {
			break
		}
		switch m {
		case nn.ModeMDLM:
			mdlmDir = filepath.Join(s.models(), m)
		case nn.ModeAR:
			arDir = filepath.Join(s.models(), m)
		}
	}
	if mdlmDir == "" || arDir == "" {
		s.progress("bench", "skipped: needs both an mdlm and an ar model")
		return nil
	}
	md, _, _, err := nn.LoadModel(s.be, mdlmDir, true)
	if err != nil {
		return err
	}
	defer md.Free()
	am, _, _, err := nn.LoadModel(s.be, arDir, true)
	if err != nil {
		return err
	}
	defer am.Free()
	b := s.cfg.Bench
	L := b.Len
	if L == 0 {
		L = min(md.Cfg.SeqLen, am.Cfg.SeqLen)
	}
	// Three timed runs a setting (same seed, same output): the median is
	// what a busy machine disturbs least. The samples are held against
	// real test windows and scored by the AR model.
	o := train.BenchSampleOptions{N: b.N, Len: L, Steps: b.Steps, TokensPerStep: b.TokensPerStep, Repeats: 3, Scorer: am, ScorerName: arDir}
	lens := make([]int, b.N)
	for i := range lens {
		lens[i] = L
	}
	if ref, floor, err := train.ReferenceWindows(s.prepDir(), "test", lens); err == nil && len(ref) == b.N {
		o.Ref, o.Floor = ref, floor
	} else {
		o.Scorer = nil
		s.progress("bench", "sample quality skipped: the test split has no room for %d windows of %d (%v)", b.N, L, err)
	}
	var lines []string
	err = train.BenchSample(md, am, o, func(r train.SampleTiming) error {
		j, err := json.Marshal(r)
		lines = append(lines, string(j))
		s.progress("bench", "%s", r)
		return err
	})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"))
}

func (s *study) figDir() string { return filepath.Join(s.out, "figures") }

func (s *study) plots(context.Context) error {
	dir := s.figDir()
	if s.skip("plots", dir) {
		return nil
	}
	r, err := plots.Collect(s.models(), filepath.Join(s.out, "bench"))
	if err != nil {
		return err
	}
	for _, m := range s.cfg.Models { // given models: their runs' learning curves
		run := s.runDir(m.Name)
		if run == "" {
			continue
		}
		c, err := plots.ReadCurve(filepath.Join(run, train.MetricsFile))
		if err != nil {
			s.progress("plots", "%s: no learning curve (%v)", m.Name, err)
			continue
		}
		c.Name = m.Name
		r.Curves = append(r.Curves, c)
	}
	part := filepath.Join(s.out, ".figures.partial")
	os.RemoveAll(part)
	files, err := plots.All(r, part)
	if err != nil {
		return err
	}
	if err := os.Rename(part, dir); err != nil {
		return err
	}
	s.progress("plots", "%d files in %s", len(files), s.rel(dir))
	return nil
}

// baseline writes the k-mer rows: OUT/models/kmer/ppl.json (an order-k
// Markov model counted on the train split, Dirichlet smoothing tuned on
// valid, the order with the best valid perplexity scored on the rows the
// ppl stage scores) and OUT/models/kmer/tasks/T/results.json (logistic
// regression on k-mer spectra under the seeds, sample and splits of the
// downstream stage).
func (s *study) baseline(ctx context.Context) error {
	b := s.cfg.Baseline
	dir := filepath.Join(s.models(), evaluate.KmerMode)
	if len(b.PPLOrders) == 0 && len(b.TaskKs) == 0 && !b.OneHot && s.cfg.BidirOrder() == 0 {
		s.progress("baseline", "skipped: no baseline orders")
		return nil
	}
	if p := filepath.Join(dir, plots.PPLFile); len(b.PPLOrders) > 0 && !s.skip("baseline", p) {
		if err := s.kmerPPL(p); err != nil {
			return err
		}
	}
	if err := s.floor(); err != nil {
		return err
	}
	d := s.cfg.Downstream
	for _, mode := range finetune.BaselineModes {
		if mode == finetune.KmerBaselineMode && len(b.TaskKs) == 0 || mode == finetune.OneHotBaselineMode && !b.OneHot {
			continue
		}
		for _, t := range s.cfg.Tasks {
			p := filepath.Join(s.models(), mode, "tasks", t.Name, plots.ResultsFile)
			if s.skip("baseline", p) {
				continue
			}
			task, err := s.loadTask(t)
			if err != nil {
				return err
			}
			t0 := time.Now()
			res, err := finetune.Baseline(ctx, task, finetune.BaselineOptions{Mode: mode, Seeds: d.Seeds, Ks: b.TaskKs, MaxTrain: d.MaxTrain,
				MaxTest: d.MaxTest, MaxLen: s.taskLen()})
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			if err := res.WriteJSON(p); err != nil {
				return err
			}
			var chose []string
			for _, r := range res.PerSeed {
				if r.K > 0 {
					chose = append(chose, fmt.Sprint("k ", r.K))
				} else {
					chose = append(chose, fmt.Sprint("L2 ", r.L2))
				}
			}
			s.progress("baseline", "%s on %s: accuracy %.3f (min %.3f, max %.3f), MCC %.3f, chose %s, %s", res.Checkpoint, t.Name,
				res.Accuracy.Mean, res.Accuracy.Min, res.Accuracy.Max, res.MCC.Mean, strings.Join(chose, "; "), time.Since(t0).Round(time.Second))
		}
	}
	return nil
}

// taskLen is the crop the models see (downstream max_len, else the context
// of the first model), which the k-mer classifier applies too.
func (s *study) taskLen() int {
	if s.cfg.Downstream.MaxLen > 0 {
		return s.cfg.Downstream.MaxLen
	}
	if ms := s.downstreamModels(); len(ms) > 0 {
		if c, err := nn.ReadConfig(nn.CheckpointPath(s.ckpt(ms[0]))); err == nil {
			return c.SeqLen
		}
	}
	return 0
}

// kmerPPL writes the k-mer row of the perplexity table to p: orders
// counted on train, smoothing tuned and the order chosen on valid, scored
// on the rows the ppl stage scores (evaluate.KmerPerplexity, as eval kmer).
func (s *study) kmerPPL(p string) error {
	ds, err := dataprep.Open(s.prepDir())
	if err != nil {
		return err
	}
	if ds.Manifest.Tokenizer != vocab.DNATokenizer {
		s.progress("baseline", "skipped k-mer perplexity: tokens are %s, not DNA", ds.Manifest.Tokenizer)
		return nil
	}
	split, orders := s.cfg.PPL.Split, s.cfg.Baseline.PPLOrders
	open := func(n string) (evaluate.Split, error) { return ds.Split(n) }
	res, err := evaluate.KmerPerplexity(open, split, evaluate.KmerPPLOptions{Orders: orders, MaxRows: s.cfg.PPL.MaxRows})
	if err != nil {
		return err
	}
	best := res.Best()
	rep := evaluate.NewReport(best.NLL, fmt.Sprintf("k-mer order %d (train split counts, Dirichlet smoothing tuned on valid; order chosen on valid among %v)", res.BestK, orders),
		evaluate.KmerMode, split)
	rep.KmerOrder = res.BestK
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := rep.WriteJSON(p); err != nil {
		return err
	}
	s.progress("baseline", "k-mer: %s", rep.Summary("base"))
	return nil
}

// floor writes MDLM's floor to OUT/models/kmer-bidirectional/ppl.json:
// the bidirectional k-mer model (train.KmerFloor) scored under the NELBO
// with the ppl stage's split, draws, seed and rows, so that it compares
// draw for draw with the MDLM rows. Only when the study has an MDLM model
// and DNA.
func (s *study) floor() error {
	m := s.cfg.BidirOrder()
	if m == 0 || len(s.mdlmModels()) == 0 {
		return nil
	}
	p := filepath.Join(s.models(), evaluate.KmerBidirMode, plots.PPLFile)
	if s.skip("baseline", p) {
		return nil
	}
	if mf, err := dataprep.ReadManifest(s.prepDir()); err == nil && mf.Tokenizer != vocab.DNATokenizer {
		s.progress("baseline", "skipped the bidirectional k-mer floor: tokens are %s, not DNA", mf.Tokenizer)
		return nil
	}
	c := s.cfg.PPL
	t0 := time.Now()
	rep, err := train.KmerFloor(s.prepDir(), c.Split, m, train.EvalOptions{Batch: max(c.Batch, 1), MaxRows: c.MaxRows, Draws: max(c.Samples, 1)})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := rep.WriteJSON(p); err != nil {
		return err
	}
	s.progress("baseline", "bidirectional k-mer floor: %s, %s", rep.Summary("base"), time.Since(t0).Round(time.Second))
	return nil
}

// mdlmModels are the generative models of mode mdlm.
func (s *study) mdlmModels() []string {
	var ms []string
	for _, name := range s.generative() {
		if c, err := nn.ReadConfig(nn.CheckpointPath(s.ckpt(name))); err == nil && c.Mode == nn.ModeMDLM {
			ms = append(ms, name)
		}
	}
	return ms
}

// studySubdirs lists the directories directly under out.
func studySubdirs(out string) []string {
	ents, _ := os.ReadDir(out)
	var dirs []string
	for _, e := range ents {
		if e.IsDir() {
			dirs = append(dirs, filepath.Join(out, e.Name()))
		}
	}
	return dirs
}
