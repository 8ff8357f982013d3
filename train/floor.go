package train

import (
	"fmt"

	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/evaluate"
	"github.com/seqdiff/seqdiff/vocab"
)

// KmerFloor is MDLM's own floor on a split of the DNA prep directory dir:
// the bidirectional k-mer model (evaluate.BiKmer) that sees up to m
// visible bases on each side of a masked one, counted on the train split,
// its smoothing tuned on valid (unless split is valid itself), scored
// under the NELBO exactly as Perplexity scores an MDLM checkpoint (NELBO):
// the same draws of (t, mask) for the same o.Draws, o.Seed and o.MaxRows,
// so the two numbers compare directly. An MDLM above it has learned less
// than the local statistics of m bases either side. The report's mode is
// evaluate.KmerBidirMode, its KmerOrder m.
func KmerFloor(dir, split string, m int, o EvalOptions) (evaluate.Report, error) {
	ds, err := dataprep.Open(dir)
	if err != nil {
		return evaluate.Report{}, err
	}
	if ds.Manifest.Tokenizer != vocab.DNATokenizer {
		return evaluate.Report{}, fmt.Errorf("prep dir %s: the bidirectional k-mer floor needs DNA tokens, not %s", dir, ds.Manifest.Tokenizer)
	}
	tr, err := ds.Split("train")
	if err != nil {
		return evaluate.Report{}, err
	}
	if tr.Rows() == 0 {
		return evaluate.Report{}, fmt.Errorf("prep dir %s: train split is empty: nothing to count", dir)
	}
	sp, err := ds.Split(split)
	if err != nil {
		return evaluate.Report{}, err
	}
	// The model predicts A, C, G, T and N: any other token would cost
	// infinitely many nats (DNA prep writes none).
	for i := range scored(sp, o) {
		for j, id := range sp.Row(i) {
			if (id < vocab.A || id > vocab.N) && id != vocab.Pad {
				return evaluate.Report{}, fmt.Errorf("prep dir %s: %s row %d position %d: token %d is not A, C, G, T, N or [PAD]", dir, split, i, j, id)
			}
		}
	}
	k, err := evaluate.FitBiKmer(m, tr)
	if err != nil {
		return evaluate.Report{}, err
	}
	smoothing := "add-one smoothing: valid is the scored split"
	if split != "valid" {
		smoothing = "add-one smoothing: no valid split to tune on"
		if va, err := ds.Split("valid"); err == nil && va.Rows() > 0 {
			if err := k.TuneBeta(va); err != nil {
				return evaluate.Report{}, fmt.Errorf("prep dir %s: %w", dir, err)
			}
			smoothing = "Dirichlet smoothing tuned on valid"
		}
	}
	nll, err := NELBO(k, vocab.DNA(), sp, ds.Manifest.SeqLen, o)
	if err != nil {
		return evaluate.Report{}, fmt.Errorf("bidirectional k-mer floor on %s %s: %w", dir, split, err)
	}
	desc := fmt.Sprintf("bidirectional k-mer, up to %d visible bases each side (train split counts, %s)", m, smoothing)
	rep := evaluate.NewReport(nll, desc, evaluate.KmerBidirMode, split)
	rep.KmerOrder, rep.Seed = m, o.Seed
	return rep, nil
}
