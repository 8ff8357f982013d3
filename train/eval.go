package train

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/seqdiff/seqdiff/ar"
	"github.com/seqdiff/seqdiff/mdlm"
	"github.com/seqdiff/seqdiff/nn"
)

// Result is a held-out score: NLL nats summed over Tokens scored tokens.
// For ar it is the exact NLL of every non-PAD next token; for mdlm the
// NELBO (an upper bound, Bound true) averaged over K draws of (t, mask)
// per sequence from Seed; for mlm the cross-entropy of the masked
// positions (a masked-token loss, not a sequence perplexity).
type Result struct {
	Mode   string
	NLL    float64
	Tokens int64
	Rows   int
	Bound  bool
	K      int
	Seed   uint64
}

// PerToken is the NLL per scored token in nats (0 when none was scored).
func (r Result) PerToken() float64 {
	if r.Tokens == 0 {
		return 0
	}
	return r.NLL / float64(r.Tokens)
}

// BitsPerToken is PerToken in bits (bits per base for DNA).
func (r Result) BitsPerToken() float64 { return r.PerToken() / math.Ln2 }

// Perplexity is exp(PerToken); for mdlm an upper bound.
func (r Result) Perplexity() float64 { return math.Exp(r.PerToken()) }

// Evaluate scores the first maxRows rows of rows (0: all) with model m in
// batches of batch rows. K and seed matter for mdlm (NELBO draws) and mlm
// (the masking).
func Evaluate(m *nn.Model, mode string, rows Rows, L, batch, maxRows, K int, seed uint64) (Result, error) {
	n := rows.Rows()
	if maxRows > 0 && maxRows < n {
		n = maxRows
	}
	res := Result{Mode: mode, Rows: n, K: K, Seed: seed}
	if n == 0 {
		return res, nil
	}
	B := max(min(batch, n), 1)
	cfg := m.Cfg
	buf := make([]int32, B*L)
	var ev *mdlm.Evaluator
	if mode == nn.ModeMDLM {
		var err error
		ev, err = mdlm.NewEvaluator(nn.Denoiser{M: m}, mdlmVocab(cfg), mdlm.NELBOConfig{K: K, Seed: seed})
		if err != nil {
			return res, err
		}
		res.Bound = true
	}
	rng := rand.New(rand.NewPCG(seed, 0x6d6c6d))
	var ab ar.Batch
	var mb mdlm.Batch
	for start := 0; start < n; start += B {
		got := rows.ReadRows(buf, start)
		for i := min(got, n-start) * L; i < len(buf); i++ {
			buf[i] = int32(cfg.PadID) // rows past maxRows count as PAD: nothing
		}
		switch mode {
		case nn.ModeMDLM:
			if err := ev.Add(buf, B, L); err != nil {
				return res, err
			}
		case nn.ModeAR:
			if err := ar.Shift(arVocab(cfg), buf, B, L, &ab); err != nil {
				return res, err
			}
			if ab.Norm == 0 {
				continue
			}
			if err := m.Forward(ab.Inputs, nil, B, ab.L, true); err != nil {
				return res, err
			}
			s, err := m.CrossEntropy(ab.Targets, ab.Weights, nn.IgnoreTarget, -1, 1, false)
			if err != nil {
				return res, err
			}
			res.NLL += s
			res.Tokens += int64(ab.Norm)
		case nn.ModeMLM:
			if err := mdlm.MLM(mdlmVocab(cfg), mdlm.DefaultMLM, buf, B, L, rng, &mb); err != nil {
				return res, err
			}
			if mb.Norm == 0 {
				continue
			}
			if err := m.Forward(mb.Input, nil, B, L, false); err != nil {
				return res, err
			}
			s, err := m.CrossEntropy(mb.Targets, mb.Weights, nn.IgnoreTarget, -1, 1, false)
			if err != nil {
				return res, err
			}
			res.NLL += s
			res.Tokens += int64(mb.Norm)
		default:
			return res, fmt.Errorf("evaluate: mode %q", mode)
		}
	}
	if ev != nil {
		res.NLL, res.Tokens = ev.NLL, ev.Tokens
	}
	return res, nil
}

func mdlmVocab(c nn.Config) mdlm.Vocab {
	v := mdlm.DNA()
	if c.VocabSize != v.Size || c.MaskID != int(v.Mask) || c.PadID != int(v.Pad) {
		v = mdlm.Vocab{Size: c.VocabSize, Mask: int32(c.MaskID), Pad: int32(c.PadID)}
	}
	return v
}

func arVocab(c nn.Config) ar.Vocab {
	v := ar.DNA()
	if c.VocabSize != v.Size || c.PadID != int(v.Pad) {
		v = ar.Vocab{Size: c.VocabSize, Pad: int32(c.PadID)}
	}
	return v
}
