package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/seqdiff/seqdiff/compute"
	"github.com/seqdiff/seqdiff/compute/backend"
	"github.com/seqdiff/seqdiff/mdlm"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/train"
)

type benchSampleOptions struct {
	shape    shapeOptions
	mdlm     string
	ar       string
	n        int
	length   int
	steps    []int
	samplers []string
	threads  int
	device   string
	seed     uint64
	json     bool
}

func newBenchSampleCmd() *cobra.Command {
	o := &benchSampleOptions{}
	cmd := &cobra.Command{
		Use:   "sample",
		Short: "Time MDLM ddpm, ddpm_cache and AR KV-cache sampling at the same length",
		Long: `Generate --n sequences of --len tokens (one batch) with MDLM ddpm, MDLM
ddpm_cache (for each of --steps T) and AR ancestral sampling over the KV
cache, and report tokens/s and model calls (NFE) of each. The models are
--mdlm and --ar checkpoints when given, else freshly initialised models of
the --preset shape (speed does not depend on the weights).

Next to each MDLM sampler's calls stands the expected number E[NFE]
(mdlm.ExpectedCalls), with the rows run through the model for a batch, and
next to ddpm_cache its measured speed-up over ddpm and the predicted one,
the ratio of expected row evaluations. With the log-linear schedule every
position is revealed at a uniformly random step, and the cache runs a row
again only after a step that revealed one of its positions: once per
distinct reveal step, T (1 - (1 - 1/T)^len), about T (1 - e^(-len/T)) per
row, against about T for ddpm. It saves much only when T exceeds len (1.56x
at len 1024, T 1000; 10.3x at T 10000). A time-conditioned model never
reuses logits.`,
		Example: `  seqdiff bench sample --len 1024 --steps 128 --n 4
  seqdiff bench sample --n 1 --len 1024 --steps 1000,10000 --samplers ddpm,ddpm_cache
  seqdiff bench sample --mdlm runs/mdlm --ar runs/ar --len 1024 --steps 1024 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.OutOrStdout()) },
	}
	f := cmd.Flags()
	o.shape.bind(f, "dna-small")
	f.StringVar(&o.mdlm, "mdlm", "", "MDLM checkpoint or run directory (default: a fresh model)")
	f.StringVar(&o.ar, "ar", "", "AR checkpoint or run directory (default: a fresh model)")
	f.IntVar(&o.n, "n", 4, "sequences")
	f.IntVar(&o.length, "len", 0, "tokens per sequence (0: the model's seq_len)")
	f.IntSliceVar(&o.steps, "steps", []int{128}, "MDLM denoising steps T (a comma-separated list runs each)")
	f.StringSliceVar(&o.samplers, "samplers", []string{"ddpm", "ddpm_cache", "ar"}, "samplers to time: ddpm, ddpm_cache, ar")
	f.IntVar(&o.threads, "threads", 0, "CPU threads (0: all cores)")
	f.StringVar(&o.device, "device", "auto", deviceHelp)
	f.Uint64Var(&o.seed, "seed", 0, "seed")
	f.BoolVar(&o.json, "json", false, "print one JSON object per sampler")
	return cmd
}

type benchSampleRow struct {
	Sampler    string  `json:"sampler"`
	N          int     `json:"n"`
	Len        int     `json:"len"`
	Steps      int     `json:"steps,omitempty"`
	Calls      int     `json:"model_calls"`
	RowEvals   int     `json:"row_evals,omitempty"` // MDLM: rows over all model calls
	Seconds    float64 `json:"seconds"`
	CPUSeconds float64 `json:"cpu_seconds,omitempty"` // process user+system time (unix)
	TokensPerS float64 `json:"tokens_per_s"`
	Threads    int     `json:"threads"`
	// MDLM: E[NFE] of this sampler (mdlm.ExpectedCalls); for ddpm_cache,
	// when ddpm ran at the same steps, its measured and predicted speed-up.
	ExpectedCalls    float64 `json:"expected_calls,omitempty"`
	ExpectedRowEvals float64 `json:"expected_row_evals,omitempty"`
	Speedup          float64 `json:"speedup_vs_ddpm,omitempty"`
	CPUSpeedup       float64 `json:"cpu_speedup_vs_ddpm,omitempty"`
	PredictedSpeedup float64 `json:"predicted_speedup,omitempty"`
}

func (o *benchSampleOptions) model(be compute.Backend, dir, mode string) (*nn.Model, error) {
	if dir != "" {
		m, _, _, err := train.LoadModel(be, dir, true)
		if err == nil && m.Cfg.Mode != mode {
			return nil, fmt.Errorf("checkpoint %s is a %s model, want %s", dir, m.Cfg.Mode, mode)
		}
		return m, err
	}
	cfg, err := o.shape.resolve(mode)
	if err != nil {
		return nil, err
	}
	m, err := nn.New(be, cfg)
	if err != nil {
		return nil, err
	}
	m.Init(o.seed)
	return m, nil
}

func (o *benchSampleOptions) run(stdout io.Writer) error {
	if o.n < 1 || o.length < 0 || len(o.steps) == 0 {
		return fmt.Errorf("--n must be >= 1, --len >= 0, --steps given")
	}
	for _, T := range o.steps {
		if T < 1 {
			return fmt.Errorf("--steps %d: must be >= 1", T)
		}
	}
	want := map[string]bool{}
	for _, s := range o.samplers {
		switch s {
		case "ddpm", "ddpm_cache", "ar":
			want[s] = true
		default:
			return fmt.Errorf("--samplers: %q is not ddpm, ddpm_cache or ar", s)
		}
	}
	be, closeBE, err := modelBackend(o.device, o.threads)
	if err != nil {
		return err
	}
	defer closeBE()
	var md, am *nn.Model
	L := o.length
	if want["ddpm"] || want["ddpm_cache"] {
		if md, err = o.model(be, o.mdlm, nn.ModeMDLM); err != nil {
			return err
		}
		defer md.Free()
		if o.length == 0 {
			L = md.Cfg.SeqLen
		}
	}
	if want["ar"] {
		if am, err = o.model(be, o.ar, nn.ModeAR); err != nil {
			return err
		}
		defer am.Free()
		if o.length == 0 && (L == 0 || am.Cfg.SeqLen < L) {
			L = am.Cfg.SeqLen
		}
	}
	warm := map[*nn.Model]bool{}
	timeGen := func(name string, m *nn.Model, g train.GenerateOptions) (benchSampleRow, error) {
		if !warm[m] {
			// One untimed model call first: activation buffers, BLAS
			// threads and device kernels are then ready for every sampler.
			w := g
			w.Steps = min(g.Steps, 1)
			if _, _, err := train.Generate(m, w); err != nil {
				return benchSampleRow{}, fmt.Errorf("%s: %w", name, err)
			}
			warm[m] = true
		}
		c0, cpuOK := processCPU()
		t0 := time.Now()
		_, st, err := train.Generate(m, g)
		if err != nil {
			return benchSampleRow{}, fmt.Errorf("%s: %w", name, err)
		}
		dt := time.Since(t0).Seconds()
		r := benchSampleRow{Sampler: name, N: o.n, Len: L, Steps: g.Steps, Calls: st.Calls, RowEvals: st.RowEvals,
			Seconds: dt, TokensPerS: float64(o.n*L) / dt, Threads: backend.Threads(be)}
		if c1, ok := processCPU(); ok && cpuOK {
			r.CPUSeconds = (c1 - c0).Seconds()
		}
		return r, nil
	}
	emit := func(r benchSampleRow) error {
		if o.json {
			return json.NewEncoder(stdout).Encode(r)
		}
		line := fmt.Sprintf("%-12s %d x %d tokens", r.Sampler, r.N, r.Len)
		if r.Steps > 0 {
			line += fmt.Sprintf(", T %d", r.Steps)
		}
		line += fmt.Sprintf(": %8.3f s", r.Seconds)
		if r.CPUSeconds > 0 {
			line += fmt.Sprintf(" (cpu %.3f s)", r.CPUSeconds)
		}
		line += fmt.Sprintf("  %9.0f tokens/s  %6d model calls", r.TokensPerS, r.Calls)
		if r.ExpectedCalls > 0 {
			line += fmt.Sprintf(" (expected %.1f)", r.ExpectedCalls)
		}
		if r.RowEvals > 0 && r.N > 1 {
			line += fmt.Sprintf(", %d row evaluations (expected %.1f)", r.RowEvals, r.ExpectedRowEvals)
		}
		if r.Speedup > 0 {
			line += fmt.Sprintf("  %.2fx ddpm's speed", r.Speedup)
			if r.CPUSpeedup > 0 {
				line += fmt.Sprintf(" (cpu %.2fx)", r.CPUSpeedup)
			}
			line += fmt.Sprintf(", predicted %.2fx", r.PredictedSpeedup)
		}
		_, err := fmt.Fprintln(stdout, line)
		return err
	}
	// ddpm_cache reuses logits only when the model ignores t; the
	// generated positions are all n x len (no prefix or suffix here).
	cacheOn := md != nil && !md.Cfg.TimeConditioning
	for _, T := range o.steps {
		e := mdlm.ExpectedCalls(nil, T, o.n, L)
		if !cacheOn {
			e.CacheCalls, e.CacheRowEvals = e.Calls, e.RowEvals
		}
		var ddpm benchSampleRow
		for _, name := range []string{"ddpm", "ddpm_cache"} {
			if !want[name] {
				continue
			}
			r, err := timeGen(name, md, train.GenerateOptions{N: o.n, Len: L, Batch: o.n, Steps: T, Sampler: name, Seed: o.seed})
			if err != nil {
				return err
			}
			r.ExpectedCalls, r.ExpectedRowEvals = e.Calls, e.RowEvals
			if name == "ddpm" {
				ddpm = r
			} else {
				r.ExpectedCalls, r.ExpectedRowEvals = e.CacheCalls, e.CacheRowEvals
				if ddpm.Seconds > 0 {
					// The work is the rows run through the model.
					r.Speedup, r.PredictedSpeedup = ddpm.Seconds/r.Seconds, e.RowEvals/e.CacheRowEvals
					if ddpm.CPUSeconds > 0 && r.CPUSeconds > 0 {
						r.CPUSpeedup = ddpm.CPUSeconds / r.CPUSeconds
					}
				}
			}
			if err := emit(r); err != nil {
				return err
			}
		}
	}
	if want["ar"] {
		r, err := timeGen("ar_kv_cache", am, train.GenerateOptions{N: o.n, Len: L, Batch: o.n, Seed: o.seed})
		if err != nil {
			return err
		}
		return emit(r)
	}
	return nil
}
