package train

import (
	"fmt"
	"slices"
	"time"

	"github.com/seqdiff/seqdiff/compute/backend"
	"github.com/seqdiff/seqdiff/mdlm"
	"github.com/seqdiff/seqdiff/nn"
)

// SampleTiming is one sampler at one setting: a line of `seqdiff bench
// sample --json` and of a study's bench.jsonl, which `seqdiff plot` reads.
type SampleTiming struct {
	Sampler    string  `json:"sampler"` // ddpm, ddpm_cache or ar_kv_cache
	N          int     `json:"n"`
	Len        int     `json:"len"`
	Steps      int     `json:"steps,omitempty"`
	Calls      int     `json:"model_calls"`
	RowEvals   int     `json:"row_evals,omitempty"` // MDLM: rows over all model calls
	Seconds    float64 `json:"seconds"`             // median over the timed runs
	CPUSeconds float64 `json:"cpu_seconds,omitempty"`
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

// Samplers: MDLM's and AR's.
const (
	SamplerDDPM         = "ddpm"
	SamplerDDPMCache    = "ddpm_cache"
	SamplerFirstHitting = "first_hitting"
	SamplerTopK         = "topk_confidence"
	SamplerAR           = "ar"
)

// MDLMSamplers are the MDLM samplers, in the order of their flags' help.
var MDLMSamplers = []string{SamplerDDPM, SamplerDDPMCache, SamplerFirstHitting, SamplerTopK}

// BenchSampleOptions configure BenchSample.
type BenchSampleOptions struct {
	N, Len   int      // sequences, generated as one batch, of Len tokens
	Steps    []int    // MDLM denoising steps T, each timed
	Samplers []string // ddpm, ddpm_cache, ar (nil: all three)
	Seed     uint64
	Repeats  int // timed runs per setting, the median kept (0: 1)
}

// Samplers is the set of samplers names lists for BenchSample (nil: all
// three); a name that is not ddpm, ddpm_cache or ar is an error.
func Samplers(names []string) (map[string]bool, error) {
	if len(names) == 0 {
		names = []string{SamplerDDPM, SamplerDDPMCache, SamplerAR}
	}
	want := map[string]bool{}
	for _, s := range names {
		if s != SamplerDDPM && s != SamplerDDPMCache && s != SamplerAR {
			return nil, fmt.Errorf("sampler %q is not ddpm, ddpm_cache or ar", s)
		}
		want[s] = true
	}
	return want, nil
}

// BenchSample times MDLM ddpm and ddpm_cache sampling of md at each of
// o.Steps, then AR ancestral sampling over the KV cache of am, all at the
// same length, and calls emit with each timing as it is measured. A model
// runs one untimed call first (activation buffers, BLAS threads and device
// kernels ready). Beside each MDLM sampler stand its expected calls, and
// beside ddpm_cache its speed-up over ddpm, measured and predicted (the
// ratio of expected row evaluations; a time-conditioned model never reuses
// logits, so it predicts none).
func BenchSample(md, am *nn.Model, o BenchSampleOptions, emit func(SampleTiming) error) error {
	want, err := Samplers(o.Samplers)
	if err != nil {
		return err
	}
	if o.N < 1 || o.Len < 1 {
		return fmt.Errorf("bench sample: n %d and len %d must be >= 1", o.N, o.Len)
	}
	if (want[SamplerDDPM] || want[SamplerDDPMCache]) && md == nil || want[SamplerAR] && am == nil {
		return fmt.Errorf("bench sample: no model for the samplers %v", o.Samplers)
	}
	warm := map[*nn.Model]bool{}
	time1 := func(name string, m *nn.Model, g GenerateOptions) (SampleTiming, error) {
		if !warm[m] {
			w := g
			w.Steps = min(g.Steps, 1)
			if _, _, err := Generate(m, w); err != nil {
				return SampleTiming{}, fmt.Errorf("%s: %w", name, err)
			}
			warm[m] = true
		}
		var secs, cpus []float64
		var st GenerateStats
		for range max(o.Repeats, 1) {
			c0, cpuOK := processCPU()
			t0 := time.Now()
			_, s, err := Generate(m, g)
			if err != nil {
				return SampleTiming{}, fmt.Errorf("%s: %w", name, err)
			}
			secs, st = append(secs, time.Since(t0).Seconds()), s
			if c1, ok := processCPU(); ok && cpuOK {
				cpus = append(cpus, (c1 - c0).Seconds())
			}
		}
		slices.Sort(secs)
		slices.Sort(cpus)
		r := SampleTiming{Sampler: name, N: o.N, Len: o.Len, Steps: g.Steps, Calls: st.Calls, RowEvals: st.RowEvals,
			Seconds: median(secs), Threads: backend.Threads(m.Backend())}
		r.TokensPerS = float64(o.N*o.Len) / r.Seconds
		if len(cpus) > 0 {
			r.CPUSeconds = median(cpus)
		}
		return r, nil
	}
	for _, T := range o.Steps {
		if T < 1 {
			return fmt.Errorf("bench sample: steps %d must be >= 1", T)
		}
		e := mdlm.ExpectedCalls(nil, T, o.N, o.Len)
		if md != nil && md.Cfg.TimeConditioning { // ddpm_cache reuses logits only when the model ignores t
			e.CacheCalls, e.CacheRowEvals = e.Calls, e.RowEvals
		}
		var ddpm SampleTiming
		for _, name := range []string{SamplerDDPM, SamplerDDPMCache} {
			if !want[name] {
				continue
			}
			r, err := time1(name, md, GenerateOptions{N: o.N, Len: o.Len, Batch: o.N, Steps: T, Sampler: name, Seed: o.Seed})
			if err != nil {
				return err
			}
			r.ExpectedCalls, r.ExpectedRowEvals = e.Calls, e.RowEvals
			if name == SamplerDDPM {
				ddpm = r
			} else {
				r.ExpectedCalls, r.ExpectedRowEvals = e.CacheCalls, e.CacheRowEvals
				if ddpm.Seconds > 0 { // the work is the rows run through the model
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
	if want[SamplerAR] {
		r, err := time1("ar_kv_cache", am, GenerateOptions{N: o.N, Len: o.Len, Batch: o.N, Seed: o.Seed})
		if err != nil {
			return err
		}
		return emit(r)
	}
	return nil
}

// String is the timing as `seqdiff bench sample` prints it.
func (r SampleTiming) String() string {
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
	return line
}
