package train

import (
	"fmt"

	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/evaluate"
	"github.com/seqdiff/seqdiff/nn"
)

// GenPPL is the generative perplexity of a set of texts under an AR scorer:
// the exact NLL of every retokenised token but each window's first (BOS).
type GenPPL struct {
	evaluate.NLL
	Texts   int // texts read
	Empty   int // texts with no token to score
	Windows int // scored rows (a text longer than the context takes several)
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
		for len(ids) > 0 {
			n := min(len(ids), L-1)
			row := make([]int32, L)
			row[0] = bos
			copy(row[1:], ids[:n])
			for j := n + 1; j < L; j++ {
				row[j] = rows.pad
			}
			for j, id := range row[1 : n+1] {
				if id == rows.pad || id < 0 || int(id) >= m.Cfg.VocabSize {
					return g, fmt.Errorf("genppl: text %d: token %d (id %d) is [PAD] or outside the scorer's vocabulary", i+1, j+1, id)
				}
			}
			rows.data = append(rows.data, row...)
			ids = ids[n:]
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
