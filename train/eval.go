package train

import (
	"fmt"
	"math/rand/v2"

	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/evaluate"
	"github.com/seqdiff/seqdiff/mdlm"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/vocab"
)

// EvalOptions configure Evaluate and Perplexity.
type EvalOptions struct {
	Batch   int    // rows per forward pass (0: 8)
	MaxRows int    // score only the first this many rows (0: all)
	Draws   int    // mdlm: NELBO draws K of (t, mask) per sequence (0: 1)
	Seed    uint64 // mdlm and mlm: seed of the draws
	// PerRow, when set, is called with each scored row's index (in the
	// split), scored tokens and nats (mdlm: the NELBO averaged over the
	// draws), in order; the rows add up to the total.
	PerRow func(evaluate.RowNLL)
}

// Evaluate scores rows (each L tokens) with model m by its mode: for ar the
// exact NLL of every non-PAD next token; for mdlm the NELBO, an upper
// bound, averaged over o.Draws draws of (t, mask) per sequence; for mlm the
// cross-entropy of the masked positions (a masked-token loss, not a
// sequence perplexity). The batches go through nn.Objective, the path
// training takes.
func Evaluate(m *nn.Model, rows Rows, L int, o EvalOptions) (evaluate.NLL, error) {
	cfg := m.Cfg
	if cfg.Mode == nn.ModeMDLM {
		return NELBO(nn.Denoiser{M: m}, cfg.Vocab(), rows, L, o)
	}
	obj := nn.NewObjective(cfg)
	rng := rand.New(rand.NewPCG(o.Seed, 0x6d6c6d))
	res := evaluate.NLL{}
	var err error
	res.Rows, err = batches(rows, L, int32(cfg.PadID), o, func(buf []int32, start, B, valid int) error {
		li, err := obj.Inputs(buf, B, L, rng)
		if err != nil {
			return err
		}
		var losses []float32
		if li.Norm > 0 {
			tokens := li.Norm
			li.Norm = 1 // the sum, not the mean
			s, err := m.Loss(li, nil, false)
			if err != nil {
				return err
			}
			res.Sum += s
			res.Tokens += int64(tokens)
			losses = m.RowLosses()
		}
		if o.PerRow == nil {
			return nil
		}
		// The loss's per-position terms, summed per row.
		T := li.T
		for b := range valid {
			r := evaluate.RowNLL{Row: start + b}
			for i := b * T; losses != nil && i < (b+1)*T; i++ {
				if li.Targets[i] != int32(li.Ignore) && (li.Weights == nil || li.Weights[i] != 0) {
					r.Tokens++
					r.NLL += float64(losses[i])
				}
			}
			o.PerRow(r)
		}
		return nil
	})
	return res, err
}

// NELBO scores rows (each L tokens) with the denoiser d under MDLM's
// NELBO (mdlm.Evaluator: o.Draws draws of (t, mask) per row from o.Seed,
// the same for every denoiser), with the NELBO split by t in ByT. It is
// how an MDLM checkpoint is scored (Evaluate) and how the bidirectional
// k-mer floor is (KmerFloor), so that the two compare draw for draw.
func NELBO(d mdlm.Denoiser, v vocab.Vocab, rows Rows, L int, o EvalOptions) (evaluate.NLL, error) {
	ev, err := mdlm.NewEvaluator(d, v, mdlm.NELBOConfig{K: max(o.Draws, 1), Seed: o.Seed})
	if err != nil {
		return evaluate.NLL{}, err
	}
	n := scored(rows, o)
	if o.PerRow != nil {
		ev.PerRow = func(r evaluate.RowNLL) {
			if r.Row < n { // not the PAD rows that fill the last batch
				o.PerRow(r)
			}
		}
	}
	ev.Rows, err = batches(rows, L, v.Pad, o, func(buf []int32, _, B, _ int) error { return ev.Add(buf, B, L) })
	return ev.NLL, err
}

// scored is the number of rows evaluation scores: the first o.MaxRows
// (0: all).
func scored(rows Rows, o EvalOptions) int {
	n := rows.Rows()
	if o.MaxRows > 0 && o.MaxRows < n {
		n = o.MaxRows
	}
	return n
}

// batches reads the scored rows in batches of o.Batch (0: 8) rows, the
// rows past the last PAD-filled so that every batch has the same shape
// (PAD rows score nothing), and calls f with each batch, the index of its
// first row, its size and how many of its rows are real. It returns the
// number of rows scored.
func batches(rows Rows, L int, pad int32, o EvalOptions, f func(buf []int32, start, B, valid int) error) (int, error) {
	n := scored(rows, o)
	if n == 0 {
		return 0, nil
	}
	B := max(min(o.Batch, n), 1)
	if o.Batch == 0 {
		B = min(8, n)
	}
	buf := make([]int32, B*L)
	for start := 0; start < n; start += B {
		got := min(rows.ReadRows(buf, start), n-start)
		for i := got * L; i < len(buf); i++ {
			buf[i] = pad // rows past MaxRows count as PAD: nothing
		}
		if err := f(buf, start, B, got); err != nil {
			return n, err
		}
	}
	return n, nil
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
