package train

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/seqdiff/seqdiff/ar"
	"github.com/seqdiff/seqdiff/mdlm"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/vocab"
)

// GenerateOptions configure Generate.
type GenerateOptions struct {
	N, Len int // rows and their length in tokens (prefix and suffix included)
	Batch  int // rows generated together (0: all N)
	Prefix []int32
	Suffix []int32 // MDLM only
	// MDLM: the sampler (SamplerDDPM, SamplerDDPMCache,
	// SamplerFirstHitting or SamplerTopK), its steps (ddpm's T,
	// topk_confidence's model calls; first_hitting takes none), first
	// hitting's TokensPerStep (0 or 1: exact), topk_confidence's Reveal
	// schedule (mdlm.RevealLinear or RevealCosine), and the stride of
	// semi-autoregressive generation when Len exceeds the model's seq_len
	// (0: half of seq_len).
	Steps           int
	Sampler         string
	TokensPerStep   int
	Reveal          string
	ConfidenceNoise float64 // topk_confidence: mdlm.SampleConfig.ConfidenceNoise
	Stride          int
	// Infill, when set, are the rows to generate instead of N x Len (MDLM,
	// each at most seq_len): [MASK] at the positions to fill, the rest
	// kept (dataprep.ReadInfill).
	Infill [][]int32
	// Temperature for both; TopK and TopP for AR only.
	Temperature float64
	TopK        int
	TopP        float64
	Seed        uint64
}

// GenerateStats counts the work done.
type GenerateStats struct {
	Calls int // model calls: MDLM forward passes, AR decoder steps
	// RowEvals is MDLM's rows over all forward passes (ddpm_cache runs
	// only the rows that changed); 0 for AR.
	RowEvals int
}

// Generate draws opts.N rows of opts.Len tokens from m: MDLM by the
// ancestral sampler (ddpm or ddpm_cache) over the bidirectional model,
// with the prefix and suffix clamped (infilling), semi-autoregressively
// past seq_len; AR by ancestral sampling over the KV-cache Decoder, the
// prefix fed first, the window sliding past seq_len (ar.Sampler). AR
// without a prefix starts each row with a base drawn uniformly from A, C,
// G, T (the model never predicts a row's first token).
func Generate(m *nn.Model, o GenerateOptions) ([][]int32, GenerateStats, error) {
	var st GenerateStats
	c := m.Cfg
	P, S := len(o.Prefix), len(o.Suffix)
	if o.Infill != nil {
		if P+S > 0 {
			return nil, st, errors.New("generate: infill rows carry their own kept bases: no prefix or suffix with them")
		}
		o.N, o.Len = len(o.Infill), 1
	}
	switch {
	case o.N < 1 || o.Len < 1:
		return nil, st, fmt.Errorf("generate: need n >= 1 and len >= 1, got %d and %d", o.N, o.Len)
	case P+S > o.Len && o.Infill == nil:
		return nil, st, fmt.Errorf("generate: prefix (%d) and suffix (%d) exceed the length %d", P, S, o.Len)
	case o.Temperature < 0:
		return nil, st, fmt.Errorf("generate: temperature %v must not be negative", o.Temperature)
	}
	B := o.Batch
	if B < 1 || B > o.N {
		B = o.N
	}
	out := make([][]int32, 0, o.N)
	switch c.Mode {
	case nn.ModeMDLM:
		if o.TopK != 0 || (o.TopP != 0 && o.TopP != 1) {
			return nil, st, errors.New("generate: top-k and top-p apply to ar sampling only")
		}
		v := c.Vocab()
		cfg, err := mdlmSampleConfig(o)
		if err != nil {
			return nil, st, err
		}
		smp, err := mdlm.NewSampler(nn.Denoiser{M: m}, v, cfg)
		if err != nil {
			return nil, st, err
		}
		L := c.SeqLen
		if o.Infill != nil {
			if out, err = infill(smp, o.Infill, B, L); err != nil {
				return nil, st, err
			}
			st.Calls, st.RowEvals = smp.Calls(), smp.RowEvals()
			return out, st, nil
		}
		for done := 0; done < o.N; done += B {
			nb := min(B, o.N-done)
			if o.Len <= L {
				row, err := mdlm.Template(v, o.Len, o.Prefix, o.Suffix)
				if err != nil {
					return nil, st, err
				}
				z := make([]int32, nb*o.Len)
				for b := range nb {
					copy(z[b*o.Len:], row)
				}
				if err := smp.Sample(z, nb, o.Len); err != nil {
					return nil, st, err
				}
				for b := range nb {
					out = append(out, z[b*o.Len:(b+1)*o.Len])
				}
				continue
			}
			if S > 0 {
				return nil, st, fmt.Errorf("generate: a suffix needs len <= the model's seq_len %d", L)
			}
			stride := o.Stride
			if stride < 1 {
				stride = max(L/2, 1)
			}
			prompt := make([]int32, nb*P)
			for b := range nb {
				copy(prompt[b*P:], o.Prefix)
			}
			rows, err := smp.SampleLong(prompt, nb, P, L, o.Len, stride)
			if err != nil {
				return nil, st, err
			}
			for b := range nb {
				out = append(out, rows[b*o.Len:(b+1)*o.Len])
			}
		}
		st.Calls, st.RowEvals = smp.Calls(), smp.RowEvals()
	case nn.ModeAR:
		if o.Infill != nil {
			return nil, st, errors.New("generate: infilling needs an mdlm model (ar only continues a prefix)")
		}
		if S > 0 {
			return nil, st, errors.New("generate: a suffix needs an mdlm model (ar only continues a prefix)")
		}
		smp, err := ar.NewSampler(c.Vocab(), ar.SampleConfig{Temperature: o.Temperature, TopK: o.TopK, TopP: o.TopP, Seed: o.Seed})
		if err != nil {
			return nil, st, err
		}
		dec := nn.NewDecoder(m)
		defer dec.Free()
		rng := rand.New(rand.NewPCG(o.Seed, 0xb05))
		for done := 0; done < o.N; done += B {
			nb := min(B, o.N-done)
			p := max(P, 1)
			prompt := make([]int32, nb*p)
			for b := range nb {
				if P > 0 {
					copy(prompt[b*P:], o.Prefix)
				} else {
					prompt[b] = vocab.Bases[rng.IntN(len(vocab.Bases))]
				}
			}
			rows, err := smp.Sample(dec, prompt, nb, p, o.Len-p)
			if err != nil {
				return nil, st, err
			}
			for b := range nb {
				out = append(out, rows[b*o.Len:(b+1)*o.Len])
			}
		}
		st.Calls = smp.Steps()
	default:
		return nil, st, fmt.Errorf("generate: a %s model does not generate (train mdlm or ar)", c.Mode)
	}
	return out, st, nil
}

// mdlmSampleConfig maps a sampler name and its settings to mdlm's.
func mdlmSampleConfig(o GenerateOptions) (mdlm.SampleConfig, error) {
	cfg := mdlm.SampleConfig{Steps: o.Steps, Temperature: o.Temperature, Seed: o.Seed, TokensPerStep: o.TokensPerStep, RevealSchedule: o.Reveal,
		ConfidenceNoise: o.ConfidenceNoise}
	switch o.Sampler {
	case "", SamplerDDPM:
		cfg.Method = mdlm.MethodDDPM
	case SamplerDDPMCache:
		cfg.Method, cfg.Cache = mdlm.MethodDDPM, true
	case SamplerFirstHitting:
		cfg.Method = mdlm.MethodFirstHitting
	case SamplerTopK:
		cfg.Method = mdlm.MethodTopKConfidence
	default:
		return cfg, fmt.Errorf("generate: sampler %q: want %s", o.Sampler, strings.Join(MDLMSamplers, ", "))
	}
	if cfg.Method != mdlm.MethodFirstHitting && o.Steps < 1 {
		return cfg, fmt.Errorf("generate: steps %d must be >= 1", o.Steps)
	}
	if o.TokensPerStep > 1 && cfg.Method != mdlm.MethodFirstHitting {
		return cfg, fmt.Errorf("generate: tokens per step apply to %s only", SamplerFirstHitting)
	}
	if (o.Reveal != "" || o.ConfidenceNoise != 0) && cfg.Method != mdlm.MethodTopKConfidence {
		return cfg, fmt.Errorf("generate: a reveal schedule and confidence noise apply to %s only", SamplerTopK)
	}
	return cfg, nil
}

// infill fills the [MASK] positions of rows, in batches of up to B rows of
// one length, keeping their order.
func infill(smp *mdlm.Sampler, rows [][]int32, B, L int) ([][]int32, error) {
	out := make([][]int32, len(rows))
	for i, r := range rows {
		if len(r) > L {
			return nil, fmt.Errorf("generate: infill row %d is %d long, past the model's seq_len %d", i+1, len(r), L)
		}
	}
	for i := 0; i < len(rows); {
		n := len(rows[i])
		j := i
		var z []int32
		for j < len(rows) && j-i < B && len(rows[j]) == n {
			z = append(z, rows[j]...)
			j++
		}
		if err := smp.Sample(z, j-i, n); err != nil {
			return nil, fmt.Errorf("infill rows %d-%d: %w", i+1, j, err)
		}
		for k := i; k < j; k++ {
			out[k] = z[(k-i)*n : (k-i+1)*n]
		}
		i = j
	}
	return out, nil
}
