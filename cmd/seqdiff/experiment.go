package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/seqdiff/seqdiff/internal/atomicfile"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/seqdiff/seqdiff/compute"
	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/evaluate"
	"github.com/seqdiff/seqdiff/finetune"
	"github.com/seqdiff/seqdiff/internal/assets"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/plots"
	"github.com/seqdiff/seqdiff/train"
)

func init() { register(newExperimentCmd) }

type experimentOptions struct {
	config string
	out    string
	device string
}

func newExperimentCmd() *cobra.Command {
	o := &experimentOptions{}
	cmd := &cobra.Command{
		Use:   "experiment",
		Short: "Run the whole study of one config: prep, pre-train, fine-tune, perplexity, tasks, bench, plots, report",
		Long: `Run a study config (configs/study-demo.yaml, configs/study-chr20.yaml) into
--out, stage by stage, printing one progress line per stage:

  prep        OUT/prep                        seqdiff prep (embedded slice when prep.fasta is empty)
  tasks       OUT/tasks/NAME.tsv              builtin tasks (human_or_worm from the embedded slices)
  pretrain    OUT/models/mlm                  MLM pre-training (the pretrain section)
  finetune    OUT/models/mdlm, OUT/models/ar  generative fine-tuning from models/mlm (the finetune section)
  scratch     OUT/models/MODE-scratch         with from_scratch: true, each mode pre-trained from scratch
  ppl         OUT/models/M/ppl.json           test perplexity (AR exact, MDLM NELBO bound)
  downstream  OUT/models/M/tasks/T/results.json  each task over the seeds
  baseline    OUT/models/kmer/...             k-mer perplexity and k-mer spectrum classifier (the baseline section)
  bench       OUT/bench/bench.jsonl           sampling speed against steps (MDLM ddpm, ddpm_cache; AR)
  plots       OUT/figures/*.png|svg           seqdiff plot
  report      OUT/report.md                   tables and figures

A stage whose output exists is skipped, so a killed study resumes where it
stopped: outputs appear atomically (training runs live in OUT/models/.M.partial
until they finish and are resumed from their last checkpoint; files are
written to a temporary name and renamed). Delete a stage's output to redo it
(and the stages after it that depend on it).

With a models: list (name, objective, ckpt) the study compares existing
checkpoints: pretrain, finetune and scratch are skipped, and the later
stages read the checkpoints where they are and write into OUT/models/NAME.`,
		Example: `  seqdiff experiment --config configs/study-demo.yaml --out demo-out
  seqdiff experiment --config configs/study-chr20.yaml --out /tmp/study-chr20`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return o.run(ctx, cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&o.config, "config", "", "study YAML")
	cmd.Flags().StringVar(&o.out, "out", "", "study directory")
	cmd.Flags().StringVar(&o.device, "device", "auto", deviceHelp)
	return cmd
}

// study is one run of a study config.
type study struct {
	cfg    studyConfig
	out    string
	log    io.Writer // progress lines and the trainers' output
	quiet  io.Writer // the trainers' own lines (log, or discarded)
	t0     time.Time
	stage  int
	stages int
	be     compute.Backend
}

func (o *experimentOptions) run(ctx context.Context, stderr io.Writer) error {
	if o.config == "" || o.out == "" {
		return errors.New("pass --config study.yaml and --out DIR")
	}
	cfg, err := readStudy(o.config)
	if err != nil {
		return err
	}
	out, err := filepath.Abs(o.out)
	if err != nil {
		return err
	}
	be, closeBE, err := modelBackend(o.device, cfg.Threads) // a bad --device writes nothing
	if err != nil {
		return err
	}
	defer closeBE()
	if err := stampStudy(out, cfg); err != nil {
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
	s := &study{cfg: cfg, out: out, log: stderr, quiet: stderr, t0: time.Now(), be: be}
	return s.run(ctx)
}

// stampFile in a study directory holds the resolved config of its study.
const stampFile = "study.yaml"

// stampStudy makes out a study directory of cfg: a new or empty directory
// gets study.yaml; an existing study must have been started with the same
// resolved configuration, so that skipped stages never mix two studies.
func stampStudy(out string, cfg studyConfig) error {
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
func (s *study) given(name string) (studyModel, bool) {
	for _, m := range s.cfg.Models {
		if m.Name == name {
			return m, true
		}
	}
	return studyModel{}, false
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
	ck := train.CheckpointPath(m.Ckpt)
	if filepath.Base(ck) == train.CheckpointDir {
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
	if p.Fasta == "" {
		tmp, remove, err := assets.Path(assets.Human)
		if err != nil {
			return err
		}
		if remove {
			defer os.Remove(tmp)
		}
		opts.Fasta, opts.InputName = tmp, "embedded:"+assets.Human
		if opts.Block == 0 && len(p.ValidChroms)+len(p.TestChroms) == 0 {
			opts.Block = 100_000 // a single 1 Mb record: blocks small enough for three splits
		}
	}
	in := opts.Fasta
	if opts.InputName != "" {
		in = opts.InputName
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

func (s *study) taskFile(t studyTask) string { return filepath.Join(s.out, "tasks", t.Name+".tsv") }

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
		s.progress("pretrain", "%s: %d params, batch %d x %d, %d steps (from step %d) in %s", mode, tr.Model.NumParams(), cfg.Batch,
			data.SeqLen, tr.Horizon(), tr.Step(), s.rel(dir))
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

// pplJSON is OUT/models/M/ppl.json (the fields of seqdiff eval ppl --json).
type pplJSON struct {
	Checkpoint   string  `json:"checkpoint"`
	Mode         string  `json:"mode"`
	Split        string  `json:"split"`
	Perplexity   float64 `json:"perplexity"`
	NLLPerToken  float64 `json:"nll_per_token"`
	BitsPerToken float64 `json:"bits_per_token"`
	Bound        bool    `json:"bound"`
	Samples      int     `json:"samples"`
	Seed         uint64  `json:"seed"`
	Tokens       int64   `json:"tokens"`
	Rows         int     `json:"rows"`
	EMA          bool    `json:"ema"`
	KmerOrder    int     `json:"kmer_order,omitempty"` // the k-mer baseline's order
}

func (s *study) ppl(context.Context) error {
	ds, err := dataprep.Open(s.prepDir())
	if err != nil {
		return err
	}
	c := s.cfg.PPL
	sp, err := ds.Split(c.Split)
	if err != nil {
		return err
	}
	for _, name := range s.generative() {
		dir := filepath.Join(s.models(), name)
		p := filepath.Join(dir, plots.PPLFile)
		if s.skip("ppl", p) {
			continue
		}
		m, _, ema, err := train.LoadModel(s.be, s.ckpt(name), true)
		if err != nil {
			return err
		}
		if m.Cfg.SeqLen < ds.Manifest.SeqLen {
			m.Free()
			return fmt.Errorf("model %s has context %d, the prep rows %d", name, m.Cfg.SeqLen, ds.Manifest.SeqLen)
		}
		res, err := train.Evaluate(m, m.Cfg.Mode, sp, ds.Manifest.SeqLen, max(c.Batch, 1), c.MaxRows, max(c.Samples, 1), 0)
		m.Free()
		if err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		rep := pplJSON{Checkpoint: s.ckpt(name), Mode: res.Mode, Split: c.Split, Perplexity: res.Perplexity(), NLLPerToken: res.PerToken(),
			BitsPerToken: res.BitsPerToken(), Bound: res.Bound, Tokens: res.Tokens, Rows: res.Rows, EMA: ema}
		if res.Bound {
			rep.Samples = c.Samples
		}
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := atomicfile.WriteFile(p, append(b, '\n')); err != nil {
			return err
		}
		kind := "exact"
		if res.Bound {
			kind = fmt.Sprintf("upper bound, K = %d", c.Samples)
		}
		s.progress("ppl", "%s: %s perplexity %.4f (%s), %.4f bits/base over %d tokens", name, c.Split, rep.Perplexity, kind, rep.BitsPerToken, rep.Tokens)
	}
	return nil
}

func (s *study) downstreamModels() []string {
	if len(s.cfg.Downstream.Models) > 0 {
		return s.cfg.Downstream.Models
	}
	return s.generative()
}

func (s *study) loadTask(t studyTask) (*finetune.Task, error) {
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
			res, err := finetune.Run(ctx, s.be, task, finetune.Options{From: s.ckpt(name), Seeds: d.Seeds, Batch: d.Batch,
				LR: d.LR, HeadLR: d.HeadLR, Warmup: d.Warmup, WeightDecay: d.WeightDecay, Epochs: d.Epochs, MaxSteps: d.MaxSteps,
				EvalEvery: d.EvalEvery, Patience: d.Patience, MaxLen: d.MaxLen, MaxTrain: d.MaxTrain, MaxTest: d.MaxTest, RC: d.RC, Stderr: s.quiet})
			if err != nil {
				return err
			}
			if err := atomicfile.WriteFile(filepath.Join(dir, "results.md"), []byte(finetune.Markdown([]*finetune.Results{res}))); err != nil {
				return err
			}
			if err := res.WriteJSON(p); err != nil {
				return err
			}
			s.progress("downstream", "%s on %s: accuracy %.3f (min %.3f, max %.3f), MCC %.3f, F1 %.3f, %s", name, t.Name, res.Accuracy.Mean,
				res.Accuracy.Min, res.Accuracy.Max, res.MCC.Mean, res.F1.Mean, time.Since(t0).Round(time.Second))
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
			mc, err := nn.ReadConfig(train.CheckpointPath(m.Ckpt))
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
	b := s.cfg.Bench
	var lines []string
	// Each configuration runs three times (same seed, same output); the
	// median time is kept, which a busy machine disturbs less than one run.
	emit := func(m *nn.Model, sampler string, steps int) error {
		g := train.GenerateOptions{N: b.N, Len: b.Len, Batch: b.N, Steps: steps, Sampler: sampler}
		if g.Len == 0 {
			g.Len = m.Cfg.SeqLen
		}
		var times []float64
		var calls int
		for range 3 {
			t0 := time.Now()
			_, st, err := train.Generate(m, g)
			if err != nil {
				return fmt.Errorf("%s: %w", sampler, err)
			}
			times, calls = append(times, time.Since(t0).Seconds()), st.Calls
		}
		slices.Sort(times)
		dt := times[1]
		name := sampler
		if name == "" {
			name = "ar_kv_cache"
		}
		row := plots.BenchRow{Sampler: name, N: b.N, Len: g.Len, Steps: steps, Calls: calls, Seconds: dt, TokensPerS: float64(b.N*g.Len) / dt}
		j, _ := json.Marshal(row)
		lines = append(lines, string(j))
		s.progress("bench", "%-11s steps %4d: %8.0f tokens/s (median of 3), %d model calls", name, steps, row.TokensPerS, calls)
		return nil
	}
	md, _, _, err := train.LoadModel(s.be, mdlmDir, true)
	if err != nil {
		return err
	}
	defer md.Free()
	for _, steps := range b.Steps {
		for _, sampler := range []string{"ddpm", "ddpm_cache"} {
			if err := emit(md, sampler, steps); err != nil {
				return err
			}
		}
	}
	am, _, _, err := train.LoadModel(s.be, arDir, true)
	if err != nil {
		return err
	}
	defer am.Free()
	if err := emit(am, "", 0); err != nil {
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

// kmerModel is the directory (OUT/models/kmer) and table name of the k-mer
// baseline; a given model may not use it.
const kmerModel = "kmer"

// baseline writes the k-mer rows: OUT/models/kmer/ppl.json (an order-k
// Markov model counted on the train split, Dirichlet smoothing tuned on
// valid, the order with the best valid perplexity scored on the rows the
// ppl stage scores) and OUT/models/kmer/tasks/T/results.json (logistic
// regression on k-mer spectra under the seeds, sample and splits of the
// downstream stage).
func (s *study) baseline(ctx context.Context) error {
	b := s.cfg.Baseline
	dir := filepath.Join(s.models(), kmerModel)
	if len(b.PPLOrders) == 0 && len(b.TaskKs) == 0 {
		s.progress("baseline", "skipped: no baseline orders")
		return nil
	}
	if p := filepath.Join(dir, plots.PPLFile); len(b.PPLOrders) > 0 && !s.skip("baseline", p) {
		if err := s.kmerPPL(p); err != nil {
			return err
		}
	}
	if len(b.TaskKs) == 0 {
		return nil
	}
	d := s.cfg.Downstream
	for _, t := range s.cfg.Tasks {
		p := filepath.Join(dir, "tasks", t.Name, plots.ResultsFile)
		if s.skip("baseline", p) {
			continue
		}
		task, err := s.loadTask(t)
		if err != nil {
			return err
		}
		t0 := time.Now()
		res, err := finetune.KmerBaseline(ctx, task, finetune.KmerOptions{Seeds: d.Seeds, Ks: b.TaskKs, MaxTrain: d.MaxTrain, MaxTest: d.MaxTest, MaxLen: s.taskLen()})
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := res.WriteJSON(p); err != nil {
			return err
		}
		var ks []string
		for _, r := range res.PerSeed {
			ks = append(ks, fmt.Sprint(r.K))
		}
		s.progress("baseline", "k-mer classifier on %s: accuracy %.3f (min %.3f, max %.3f), MCC %.3f, k per seed %s, %s", t.Name,
			res.Accuracy.Mean, res.Accuracy.Min, res.Accuracy.Max, res.MCC.Mean, strings.Join(ks, ","), time.Since(t0).Round(time.Second))
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
		if c, err := nn.ReadConfig(train.CheckpointPath(s.ckpt(ms[0]))); err == nil {
			return c.SeqLen
		}
	}
	return 0
}

func (s *study) kmerPPL(p string) error {
	ds, err := dataprep.Open(s.prepDir())
	if err != nil {
		return err
	}
	if ds.Manifest.Tokenizer != dataprep.DNATokenizerName {
		s.progress("baseline", "skipped k-mer perplexity: tokens are %s, not DNA", ds.Manifest.Tokenizer)
		return nil
	}
	tr, err := ds.Split("train")
	if err != nil {
		return err
	}
	va, err := ds.Split("valid")
	if err != nil {
		return err
	}
	te, err := ds.Split(s.cfg.PPL.Split)
	if err != nil {
		return err
	}
	kmax := slices.Max(s.cfg.Baseline.PPLOrders)
	km, err := evaluate.NewKmer(evaluate.KmerConfig{Order: kmax})
	if err != nil {
		return err
	}
	for i := range tr.Rows() {
		km.Add(tr.Row(i))
	}
	vrows := splitRows(va)
	if _, err := km.TuneAlpha(vrows); err != nil {
		return err
	}
	bestK, bestV := -1, 0.0
	for _, k := range s.cfg.Baseline.PPLOrders {
		nll, err := km.Perplexity(vrows, k)
		if err != nil {
			return err
		}
		if bestK < 0 || nll.Perplexity() < bestV {
			bestK, bestV = k, nll.Perplexity()
		}
	}
	// The rows the ppl stage scores: the first max_rows of the split.
	n := te.Rows()
	if m := s.cfg.PPL.MaxRows; m > 0 {
		n = min(n, m)
	}
	rows := make([][]uint8, n)
	for i := range rows {
		rows[i] = te.Row(i)
	}
	nll, err := km.Perplexity(rows, bestK)
	if err != nil {
		return err
	}
	rep := pplJSON{Checkpoint: fmt.Sprintf("k-mer order %d (train split counts, Dirichlet smoothing tuned on valid; order chosen on valid among %v)", bestK, s.cfg.Baseline.PPLOrders),
		Mode: finetune.KmerMode, Split: s.cfg.PPL.Split, Perplexity: nll.Perplexity(), NLLPerToken: nll.PerToken(),
		BitsPerToken: nll.BitsPerToken(), Tokens: nll.Count, Rows: n, KmerOrder: bestK}
	j, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(p, append(j, '\n')); err != nil {
		return err
	}
	s.progress("baseline", "k-mer order %d (best on valid): %s perplexity %.4f (exact), %.4f bits/base over %d tokens", bestK, s.cfg.PPL.Split,
		rep.Perplexity, rep.BitsPerToken, rep.Tokens)
	return nil
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
