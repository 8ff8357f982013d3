package train

import (
	"fmt"

	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/evaluate"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/vocab"
)

// GenPPL is the generative perplexity of a set of texts under an AR scorer:
// the exact NLL of every retokenised token but each window's first (BOS).
type GenPPL struct {
	evaluate.NLL
	Texts   int // texts read
	Empty   int // texts with no token to score
	Windows int // scored rows (a text longer than the context takes several)
}

// GenPPLReport is what `seqdiff eval genppl` reports.
type GenPPLReport struct {
	Samples     string  `json:"samples"`
	Scorer      string  `json:"scorer"`
	ScorerDesc  string  `json:"scorer_description"`
	Tokenizer   string  `json:"tokenizer"`
	Texts       int     `json:"texts"`
	Empty       int     `json:"empty"`
	Windows     int     `json:"windows"`
	Tokens      int64   `json:"tokens"`
	NLLPerToken float64 `json:"nll_per_token"`
	Perplexity  float64 `json:"perplexity"`
	EMA         bool    `json:"ema"`
}

// Report is g as a report of the samples file scored by scorer (m, with
// its EMA weights when ema).
func (g GenPPL) Report(m *nn.Model, samples, scorer string, ema bool) GenPPLReport {
	c := m.Cfg
	return GenPPLReport{Samples: samples, Scorer: scorer, Tokenizer: c.Tokenizer, Texts: g.Texts, Empty: g.Empty,
		Windows: g.Windows, Tokens: g.Tokens, NLLPerToken: g.PerToken(), Perplexity: g.Perplexity(), EMA: ema,
		ScorerDesc: fmt.Sprintf("seqdiff AR checkpoint (d %d, %d layers, %d heads, seq_len %d, %s, %d params), not GPT-2 large",
			c.DModel, c.NLayers, c.NHeads, c.SeqLen, c.Tokenizer, m.NumParams())}
}

// String is the report as `seqdiff eval genppl` prints it.
func (r GenPPLReport) String() string {
	return fmt.Sprintf("%s: %d samples (%d empty), %d tokens in %d windows, retokenised with %s\nscorer %s: %s\n"+
		"generative perplexity %.4f (NLL %.4f nats/token, exact under this scorer)\n",
		r.Samples, r.Texts, r.Empty, r.Tokens, r.Windows, r.Tokenizer, r.Scorer, r.ScorerDesc, r.Perplexity, r.NLLPerToken)
}

// GenerativePerplexity scores texts with the AR checkpoint m (MDLM's "gen
// PPL", which uses GPT-2 large; here the scorer is any seqdiff AR model).
// Each text is retokenised with tok, the scorer's tokenizer (special tokens
// written by name, such as [CLS] or <|endoftext|>, read as those tokens), a
// leading BOS dropped, and cut into windows of the scorer's seq_len: BOS
// followed by up to seq_len-1 tokens, as the scorer's training rows begin.
// Windows are scored batch at a time; the NLL sums over all texts.
func GenerativePerplexity(m *nn.Model, tok dataprep.Tokenizer, texts []string, batch int) (GenPPL, error) {
	var g GenPPL
	if m.Cfg.Mode != nn.ModeAR {
		return g, fmt.Errorf("genppl: the scorer must be an ar checkpoint, not %s (an mdlm model gives only a bound)", m.Cfg.Mode)
	}
	if tok.Name() != m.Cfg.Tokenizer {
		return g, fmt.Errorf("genppl: tokenizer %s is not the scorer's %s", tok.Name(), m.Cfg.Tokenizer)
	}
	bos := int32(tok.Special().BOS)
	if bos < 0 {
		return g, fmt.Errorf("genppl: tokenizer %s has no BOS token", tok.Name())
	}
	L := m.Cfg.SeqLen
	if L < 2 {
		return g, fmt.Errorf("genppl: scorer seq_len %d leaves nothing to predict", L)
	}
	rows := &textRows{L: L, pad: int32(m.Cfg.PadID)}
	for i, s := range texts {
		g.Texts++
		ids, err := tok.Encode([]byte(s))
		if err != nil {
			return g, fmt.Errorf("genppl: text %d: %w", i+1, err)
		}
		if len(ids) > 0 && ids[0] == bos {
			ids = ids[1:]
		}
		if len(ids) == 0 {
			g.Empty++
			continue
		}
		if j := rows.add(ids, bos, m.Cfg.VocabSize); j >= 0 {
			return g, fmt.Errorf("genppl: text %d: token %d (id %d) is [PAD] or outside the scorer's vocabulary", i+1, j+1, ids[j])
		}
	}
	g.Windows = rows.Rows()
	res, err := Evaluate(m, rows, L, EvalOptions{Batch: batch})
	if err != nil {
		return g, fmt.Errorf("genppl: %w", err)
	}
	g.NLL = res
	return g, nil
}

// ScoreDNA is the exact NLL of DNA sequences (token ids) under the AR
// checkpoint m, scored as eval ppl scores a prep split: each sequence cut
// into windows of the scorer's seq_len that begin with a base (DNA rows
// have no BOS), every position but a window's first predicted, N included.
// Windows are scored batch at a time; the NLL sums over all sequences.
func ScoreDNA[I vocab.ID](m *nn.Model, seqs [][]I, batch int) (evaluate.NLL, error) {
	if m.Cfg.Mode != nn.ModeAR {
		return evaluate.NLL{}, fmt.Errorf("score: the scorer must be an ar checkpoint, not %s (an mdlm model gives only a bound)", m.Cfg.Mode)
	}
	if t := m.Cfg.Tokenizer; t != "" && t != vocab.DNATokenizer {
		return evaluate.NLL{}, fmt.Errorf("score: the scorer was trained on %s, not DNA", t)
	}
	L := m.Cfg.SeqLen
	if L < 2 {
		return evaluate.NLL{}, fmt.Errorf("score: scorer seq_len %d leaves nothing to predict", L)
	}
	rows := &textRows{L: L, pad: int32(m.Cfg.PadID)}
	ids := []int32{}
	for i, s := range seqs {
		ids = ids[:0]
		for _, id := range s {
			ids = append(ids, int32(id))
		}
		if j := rows.add(ids, -1, m.Cfg.VocabSize); j >= 0 {
			return evaluate.NLL{}, fmt.Errorf("score: sequence %d: position %d (id %d) is [PAD] or outside the scorer's vocabulary", i+1, j+1, ids[j])
		}
	}
	res, err := Evaluate(m, rows, L, EvalOptions{Batch: batch})
	if err != nil {
		return res, fmt.Errorf("score: %w", err)
	}
	return res, nil
}

// textRows is a Rows held in memory: rows of L ids back to back.
type textRows struct {
	L    int
	pad  int32
	data []int32
}

func (r *textRows) Rows() int { return len(r.data) / r.L }

func (r *textRows) ReadRows(dst []int32, start int) int {
	n := copy(dst, r.data[min(start*r.L, len(r.data)):])
	for i := n; i < len(dst); i++ {
		dst[i] = r.pad
	}
	return n / r.L
}

// add appends ids as rows of L, PAD-filled at the end: each row bos then up
// to L-1 ids, or with bos < 0 up to L ids. It appends nothing and returns
// the index of the first id that is [PAD] or outside [0, size), if any,
// else -1.
func (r *textRows) add(ids []int32, bos int32, size int) int {
	for j, id := range ids {
		if id == r.pad || id < 0 || int(id) >= size {
			return j
		}
	}
	n := r.L
	if bos >= 0 {
		n--
	}
	for len(ids) > 0 {
		k := min(len(ids), n)
		row := make([]int32, 0, r.L)
		if bos >= 0 {
			row = append(row, bos)
		}
		row = append(row, ids[:k]...)
		for len(row) < r.L {
			row = append(row, r.pad)
		}
		r.data = append(r.data, row...)
		ids = ids[k:]
	}
	return -1
}

// ReferenceWindows are real windows of a DNA prep dir's split to stand
// beside samples of lengths lens, and a second, disjoint set for the
// real-vs-real floor (evaluate.RealWindows); floor is nil when the split
// has no room for it.
func ReferenceWindows(data, splitName string, lens []int) (ref, floor [][]uint8, err error) {
	ds, err := dataprep.Open(data)
	if err != nil {
		return nil, nil, err
	}
	if ds.Manifest.Tokenizer != vocab.DNATokenizer {
		return nil, nil, fmt.Errorf("prep dir %s: sample quality needs DNA, not %s", data, ds.Manifest.Tokenizer)
	}
	split, err := ds.Split(splitName)
	if err != nil {
		return nil, nil, err
	}
	// Rows apart so that joined rows do not overlap (prep --stride below
	// --seq-len).
	p := ds.Manifest.Params
	step := 1
	if p.Stride > 0 && p.Stride < ds.Manifest.SeqLen {
		step = (ds.Manifest.SeqLen + p.Stride - 1) / p.Stride
	}
	ref, floor, err = evaluate.RealWindows(split, step, lens)
	if err != nil {
		return nil, nil, fmt.Errorf("prep dir %s, %s split: %w", data, splitName, err)
	}
	return ref, floor, nil
}
