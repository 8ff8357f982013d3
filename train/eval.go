package train

import (
	"fmt"
	"math/rand/v2"

	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/evaluate"
	"github.com/seqdiff/seqdiff/mdlm"
	"github.com/seqdiff/seqdiff/nn"
)

// EvalOptions configure Evaluate and Perplexity.
type EvalOptions struct {
	Batch   int    // rows per forward pass (0: 8)
	MaxRows int    // score only the first this many rows (0: all)
	Draws   int    // mdlm: NELBO draws K of (t, mask) per sequence (0: 1)
	Seed    uint64 // mdlm and mlm: seed of the draws
}

// Evaluate scores rows (each L tokens) with model m by its mode: for ar the
// exact NLL of every non-PAD next token; for mdlm the NELBO, an upper
// bound, averaged over o.Draws draws of (t, mask) per sequence; for mlm the
// cross-entropy of the masked positions (a masked-token loss, not a
// sequence perplexity). The batches go through nn.Objective, the path
// training takes.
func Evaluate(m *nn.Model, rows Rows, L int, o EvalOptions) (evaluate.NLL, error) {
	n := rows.Rows()
	if o.MaxRows > 0 && o.MaxRows < n {
		n = o.MaxRows
	}
	K := max(o.Draws, 1)
	res := evaluate.NLL{Rows: n}
	if n == 0 {
		return res, nil
	}
	cfg := m.Cfg
	B := max(min(o.Batch, n), 1)
	if o.Batch == 0 {
		B = min(8, n)
	}
	buf := make([]int32, B*L)
	var ev *mdlm.Evaluator
	if cfg.Mode == nn.ModeMDLM {
		var err error
		ev, err = mdlm.NewEvaluator(nn.Denoiser{M: m}, cfg.Vocab(), mdlm.NELBOConfig{K: K, Seed: o.Seed})
		if err != nil {
			return res, err
		}
	}
	obj := nn.NewObjective(cfg)
	rng := rand.New(rand.NewPCG(o.Seed, 0x6d6c6d))
	for start := 0; start < n; start += B {
		got := rows.ReadRows(buf, start)
		for i := min(got, n-start) * L; i < len(buf); i++ {
			buf[i] = int32(cfg.PadID) // rows past MaxRows count as PAD: nothing
		}
		if ev != nil {
			if err := ev.Add(buf, B, L); err != nil {
				return res, err
			}
			continue
		}
		li, err := obj.Inputs(buf, B, L, rng)
		if err != nil {
			return res, err
		}
		if li.Norm == 0 {
			continue
		}
		tokens := li.Norm
		li.Norm = 1 // the sum, not the mean
		s, err := m.Loss(li, nil, false)
		if err != nil {
			return res, err
		}
		res.Sum += s
		res.Tokens += int64(tokens)
	}
	if ev != nil {
		ev.Rows = n
		return ev.NLL, nil
	}
	return res, nil
}

// Perplexity scores model m on a split of the prep directory dir, after
// checking that its rows fit the model (CheckData).
func Perplexity(m *nn.Model, dir, split string, o EvalOptions) (evaluate.NLL, error) {
	ds, err := dataprep.Open(dir)
	if err != nil {
		return evaluate.NLL{}, err
	}
	mf := ds.Manifest
	if err := CheckData(m.Cfg, dir, mf.VocabSize, mf.MaskID, mf.PadID, mf.SeqLen); err != nil {
		return evaluate.NLL{}, err
	}
	sp, err := ds.Split(split)
	if err != nil {
		return evaluate.NLL{}, err
	}
	return Evaluate(m, sp, mf.SeqLen, o)
}

// CheckData refuses data (in dir) that a model of configuration mc cannot
// read: a larger vocabulary, other [MASK] or [PAD] ids, or rows longer than
// the model's context.
func CheckData(mc nn.Config, dir string, vocabSize, maskID, padID, seqLen int) error {
	if vocabSize > mc.VocabSize || maskID != mc.MaskID || padID != mc.PadID || seqLen > mc.SeqLen {
		return fmt.Errorf("data %s (vocabulary %d, mask %d, pad %d, rows of %d) does not fit the model (vocabulary %d, mask %d, pad %d, seq_len %d)",
			dir, vocabSize, maskID, padID, seqLen, mc.VocabSize, mc.MaskID, mc.PadID, mc.SeqLen)
	}
	return nil
}
