package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/seqdiff/seqdiff/compute"
	"github.com/seqdiff/seqdiff/compute/backend"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/train"
)

type benchSampleOptions struct {
	shape   shapeOptions
	mdlm    string
	ar      string
	n       int
	length  int
	steps   int
	threads int
	device  string
	seed    uint64
	json    bool
}

func newBenchSampleCmd() *cobra.Command {
	o := &benchSampleOptions{}
	cmd := &cobra.Command{
		Use:   "sample",
		Short: "Time MDLM ddpm, ddpm_cache and AR KV-cache sampling at the same length",
		Long: `Generate --n sequences of --len tokens with MDLM ddpm, MDLM ddpm_cache
(--steps denoising steps) and AR ancestral sampling over the KV cache, and
report tokens/s and model calls of each. The models are --mdlm and --ar
checkpoints when given, else freshly initialised models of the --preset shape
(speed does not depend on the weights, except that ddpm_cache saves more calls
when the steps outnumber the positions).`,
		Example: `  seqdiff bench sample --len 1024 --steps 128 --n 4
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
	f.IntVar(&o.steps, "steps", 128, "MDLM denoising steps")
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
	Seconds    float64 `json:"seconds"`
	TokensPerS float64 `json:"tokens_per_s"`
	Threads    int     `json:"threads"`
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
	if o.n < 1 || o.steps < 1 || o.length < 0 {
		return fmt.Errorf("--n and --steps must be >= 1, --len >= 0")
	}
	be, closeBE, err := modelBackend(o.device, o.threads)
	if err != nil {
		return err
	}
	defer closeBE()
	md, err := o.model(be, o.mdlm, nn.ModeMDLM)
	if err != nil {
		return err
	}
	defer md.Free()
	am, err := o.model(be, o.ar, nn.ModeAR)
	if err != nil {
		return err
	}
	defer am.Free()
	L := o.length
	if L == 0 {
		L = min(md.Cfg.SeqLen, am.Cfg.SeqLen)
	}
	var rows []benchSampleRow
	for _, c := range []struct {
		name string
		m    *nn.Model
	}{{"ddpm", md}, {"ddpm_cache", md}, {"ar_kv_cache", am}} {
		g := train.GenerateOptions{N: o.n, Len: L, Batch: o.n, Steps: o.steps, Sampler: c.name, Seed: o.seed}
		if c.m == am {
			g.Sampler, g.Steps = "", 0
		}
		t0 := time.Now()
		_, st, err := train.Generate(c.m, g)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		dt := time.Since(t0).Seconds()
		rows = append(rows, benchSampleRow{Sampler: c.name, N: o.n, Len: L, Steps: g.Steps, Calls: st.Calls,
			Seconds: dt, TokensPerS: float64(o.n*L) / dt, Threads: backend.Threads(be)})
	}
	for _, r := range rows {
		if o.json {
			if err := json.NewEncoder(stdout).Encode(r); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(stdout, "%-12s %d x %d tokens: %8.3f s  %9.0f tokens/s  %5d model calls\n", r.Sampler, r.N, r.Len, r.Seconds, r.TokensPerS, r.Calls)
	}
	return nil
}
