package train

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/seqdiff/seqdiff/compute/backend"
	"github.com/seqdiff/seqdiff/evaluate"
	"github.com/seqdiff/seqdiff/mdlm"
	"github.com/seqdiff/seqdiff/nn"
)

// SampleTiming is one sampler at one setting: a line of `seqdiff bench
// sample --json` and of a study's bench.jsonl, which `seqdiff plot` reads.
type SampleTiming struct {
	// ddpm, ddpm_cache, first_hitting, topk_confidence, ar_kv_cache, or
	// real: the reference row of real windows (quality only).
	Sampler       string `json:"sampler"`
	N             int    `json:"n"`
	Len           int    `json:"len"`
	Steps         int    `json:"steps,omitempty"`
	TokensPerStep int    `json:"tokens_per_step,omitempty"` // first_hitting
	Reveal        string `json:"reveal,omitempty"`          // topk_confidence
	// ConfidenceNoise is topk_confidence's annealed Gumbel noise.
	ConfidenceNoise float64 `json:"confidence_noise,omitempty"`
	Calls           int     `json:"model_calls"`
	RowEvals        int     `json:"row_evals,omitempty"` // MDLM: rows over all model calls
	Seconds         float64 `json:"seconds"`             // median over the timed runs
	CPUSeconds      float64 `json:"cpu_seconds,omitempty"`
	TokensPerS      float64 `json:"tokens_per_s"`
	Threads         int     `json:"threads"`
	// MDLM: E[NFE] of this sampler (mdlm.ExpectedCalls); for ddpm_cache,
	// when ddpm ran at the same steps, its measured and predicted speed-up.
	ExpectedCalls    float64 `json:"expected_calls,omitempty"`
	ExpectedRowEvals float64 `json:"expected_row_evals,omitempty"`
	Speedup          float64 `json:"speedup_vs_ddpm,omitempty"`
	CPUSpeedup       float64 `json:"cpu_speedup_vs_ddpm,omitempty"`
	PredictedSpeedup float64 `json:"predicted_speedup,omitempty"`
	// Quality, with a reference (BenchSampleOptions.Ref): the k-mer
	// spectrum JS (bits, k = 1..6) of the samples against real windows
	// (for the real row: of a second set of real windows, the floor), and
	// the samples' NLL per base under the scorer (GenNLL, nats).
	KmerJS  map[int]float64    `json:"kmer_js,omitempty"`
	GenNLL  float64            `json:"gen_nll,omitempty"`
	Scorer  string             `json:"scorer,omitempty"`
	Samples *evaluate.SetStats `json:"stats,omitempty"`
}

// Samplers: MDLM's and AR's.
const (
	SamplerDDPM         = "ddpm"
	SamplerDDPMCache    = "ddpm_cache"
	SamplerFirstHitting = "first_hitting"
	SamplerTopK         = "topk_confidence"
	SamplerAR           = "ar"
	SamplerARKV         = "ar_kv_cache" // AR's name in timings
	SamplerReal         = "real"        // the reference row of real windows
)

// MDLMSamplers are the MDLM samplers, in the order of their flags' help.
var MDLMSamplers = []string{SamplerDDPM, SamplerDDPMCache, SamplerFirstHitting, SamplerTopK}

// BenchSampleOptions configure BenchSample.
type BenchSampleOptions struct {
	N, Len int // sequences, generated as one batch, of Len tokens
	// Steps: each is timed as ddpm's and ddpm_cache's T and as
	// topk_confidence's model calls.
	Steps         []int
	TokensPerStep []int  // first_hitting's k, each timed (nil: 1, the exact sampler)
	Reveal        string // topk_confidence's reveal schedule ("": linear)
	// ConfidenceNoise is topk_confidence's MaskGIT noise (0: none).
	ConfidenceNoise float64
	Samplers        []string // of AllSamplers (nil: all)
	Seed            uint64
	Repeats         int // timed runs per setting, the median kept (0: 1)
	// Ref, when set, are real windows (one per sample, of Len) that every
	// setting's samples are compared with (evaluate.CompareSamples); Floor,
	// a second disjoint set, gives the real row's JS (the floor at this
	// sample size). Scorer, an AR model, scores the samples and the real
	// windows (gen_nll); ScorerName names it.
	Ref, Floor [][]uint8
	Scorer     *nn.Model
	ScorerName string
}

// AllSamplers are the samplers BenchSample runs by default.
var AllSamplers = []string{SamplerDDPM, SamplerDDPMCache, SamplerFirstHitting, SamplerTopK, SamplerAR}

// Samplers is the set of samplers names lists for BenchSample (nil: all);
// a name not in AllSamplers is an error.
func Samplers(names []string) (map[string]bool, error) {
	if len(names) == 0 {
		names = AllSamplers
	}
	want := map[string]bool{}
	for _, s := range names {
		if !slices.Contains(AllSamplers, s) {
			return nil, fmt.Errorf("sampler %q is not one of %s", s, strings.Join(AllSamplers, ", "))
		}
		want[s] = true
	}
	return want, nil
}

// WantsMDLM reports whether a sampler set needs an MDLM model.
func WantsMDLM(want map[string]bool) bool {
	return want[SamplerDDPM] || want[SamplerDDPMCache] || want[SamplerFirstHitting] || want[SamplerTopK]
}

// BenchSample times MDLM sampling of md (ddpm and ddpm_cache at each of
// o.Steps, topk_confidence with each of o.Steps calls, first_hitting at
// each of o.TokensPerStep), then AR ancestral sampling over the KV cache of
// am, all at the same length, and calls emit with each timing as it is
// measured. A model runs one untimed call first (activation buffers, BLAS
// threads and device kernels ready). Beside ddpm and ddpm_cache stand
// their expected calls, and beside ddpm_cache its speed-up over ddpm,
// measured and predicted (the ratio of expected row evaluations; a
// time-conditioned model never reuses logits, so it predicts none). With
// o.Ref, each timing also carries its samples' quality, and a first timing,
// SamplerReal, the real windows' own (see BenchSampleOptions).
func BenchSample(md, am *nn.Model, o BenchSampleOptions, emit func(SampleTiming) error) error {
	want, err := Samplers(o.Samplers)
	if err != nil {
		return err
	}
	if o.N < 1 || o.Len < 1 {
		return fmt.Errorf("bench sample: n %d and len %d must be >= 1", o.N, o.Len)
	}
	if WantsMDLM(want) && md == nil || want[SamplerAR] && am == nil {
		return fmt.Errorf("bench sample: no model for the samplers %v", o.Samplers)
	}
	if o.Ref != nil && len(o.Ref) != o.N {
		return fmt.Errorf("bench sample: %d reference windows for %d samples", len(o.Ref), o.N)
	}
	// quality compares a setting's samples with the real windows.
	quality := func(r *SampleTiming, rows [][]int32) error {
		if o.Ref == nil {
			return nil
		}
		q, err := evaluate.CompareSamples(rows, o.Ref, nil)
		if err != nil {
			return err
		}
		r.KmerJS, r.Samples = q.KmerJS, &q.Samples
		if o.Scorer != nil {
			nll, err := ScoreDNA(o.Scorer, rows, o.N)
			if err != nil {
				return err
			}
			r.GenNLL, r.Scorer = nll.PerToken(), o.ScorerName
		}
		return nil
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
		var rows [][]int32
		for range max(o.Repeats, 1) {
			c0, cpuOK := processCPU()
			t0 := time.Now()
			out, s, err := Generate(m, g)
			if err != nil {
				return SampleTiming{}, fmt.Errorf("%s: %w", name, err)
			}
			secs, st, rows = append(secs, time.Since(t0).Seconds()), s, out
			if c1, ok := processCPU(); ok && cpuOK {
				cpus = append(cpus, (c1 - c0).Seconds())
			}
		}
		slices.Sort(secs)
		slices.Sort(cpus)
		r := SampleTiming{Sampler: name, N: o.N, Len: o.Len, Steps: g.Steps, TokensPerStep: g.TokensPerStep, Reveal: g.Reveal, ConfidenceNoise: g.ConfidenceNoise,
			Calls: st.Calls, RowEvals: st.RowEvals, Seconds: median(secs), Threads: backend.Threads(m.Backend())}
		r.TokensPerS = float64(o.N*o.Len) / r.Seconds
		if len(cpus) > 0 {
			r.CPUSeconds = median(cpus)
		}
		if err := quality(&r, rows); err != nil {
			return SampleTiming{}, fmt.Errorf("%s: %w", name, err)
		}
		return r, nil
	}
	if o.Ref != nil { // the real row: what the samples are held to
		r := SampleTiming{Sampler: SamplerReal, N: o.N, Len: o.Len}
		if o.Floor != nil {
			q, err := evaluate.CompareSamples(o.Floor, o.Ref, nil)
			if err != nil {
				return err
			}
			r.KmerJS, r.Samples = q.KmerJS, &q.Samples
		}
		if o.Scorer != nil {
			nll, err := ScoreDNA(o.Scorer, o.Ref, o.N)
			if err != nil {
				return err
			}
			r.GenNLL, r.Scorer = nll.PerToken(), o.ScorerName
		}
		if err := emit(r); err != nil {
			return err
		}
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
	if want[SamplerTopK] {
		for _, S := range o.Steps {
			r, err := time1(SamplerTopK, md, GenerateOptions{N: o.N, Len: o.Len, Batch: o.N, Steps: S, Sampler: SamplerTopK, Reveal: o.Reveal,
				ConfidenceNoise: o.ConfidenceNoise, Seed: o.Seed})
			if err != nil {
				return err
			}
			if err := emit(r); err != nil {
				return err
			}
		}
	}
	if want[SamplerFirstHitting] {
		ks := o.TokensPerStep
		if len(ks) == 0 {
			ks = []int{1}
		}
		for _, k := range ks {
			if k < 1 {
				return fmt.Errorf("bench sample: tokens per step %d must be >= 1", k)
			}
			r, err := time1(SamplerFirstHitting, md, GenerateOptions{N: o.N, Len: o.Len, Batch: o.N, Sampler: SamplerFirstHitting, TokensPerStep: k, Seed: o.Seed})
			if err != nil {
				return err
			}
			if err := emit(r); err != nil {
				return err
			}
		}
	}
	if want[SamplerAR] {
		r, err := time1(SamplerARKV, am, GenerateOptions{N: o.N, Len: o.Len, Batch: o.N, Seed: o.Seed})
		if err != nil {
			return err
		}
		return emit(r)
	}
	return nil
}

// String is the timing as `seqdiff bench sample` prints it.
func (r SampleTiming) String() string {
	line := fmt.Sprintf("%-15s %d x %d tokens", r.Sampler, r.N, r.Len)
	switch {
	case r.Sampler == SamplerTopK:
		line += fmt.Sprintf(", %d calls (%s", r.Steps, cmp.Or(r.Reveal, "linear"))
		if r.ConfidenceNoise > 0 {
			line += fmt.Sprintf(", noise %g", r.ConfidenceNoise)
		}
		line += ")"
	case r.Sampler == SamplerFirstHitting:
		line += fmt.Sprintf(", k %d", max(r.TokensPerStep, 1))
	case r.Steps > 0:
		line += fmt.Sprintf(", T %d", r.Steps)
	}
	if r.Sampler == SamplerReal {
		return line + ": real windows" + r.qualityString()
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
		line += fmt.Sprintf(", %d row evaluations", r.RowEvals)
		if r.ExpectedRowEvals > 0 {
			line += fmt.Sprintf(" (expected %.1f)", r.ExpectedRowEvals)
		}
	}
	if r.Speedup > 0 {
		line += fmt.Sprintf("  %.2fx ddpm's speed", r.Speedup)
		if r.CPUSpeedup > 0 {
			line += fmt.Sprintf(" (cpu %.2fx)", r.CPUSpeedup)
		}
		line += fmt.Sprintf(", predicted %.2fx", r.PredictedSpeedup)
	}
	return line + r.qualityString()
}

// qualityString is the quality part of a timing's line: 3- and 6-mer JS
// and the scorer's NLL, when measured.
func (r SampleTiming) qualityString() string {
	s := ""
	if len(r.KmerJS) > 0 {
		s += fmt.Sprintf("  JS k3 %.4f k6 %.4f", r.KmerJS[3], r.KmerJS[6])
	}
	if r.GenNLL > 0 {
		s += fmt.Sprintf("  gen NLL %.4f", r.GenNLL)
	}
	return s
}
