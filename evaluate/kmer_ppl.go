package evaluate

import (
	"errors"
	"fmt"
	"slices"
)

// Split is a split of DNA token rows (dataprep.SplitData is one).
type Split interface {
	Rows() int
	Row(i int) []uint8
}

// KmerPPLOptions configure KmerPerplexity.
type KmerPPLOptions struct {
	Orders  []int // context lengths scored, 0..MaxKmerOrder
	MaxRows int   // score the first this many rows of the scored split (0: all)
	NoTune  bool  // keep the discount smoothing instead of tuning Dirichlet on valid
}

// KmerPPL is the k-mer baseline's perplexity: one NLL per order on the
// scored split, and the order chosen on valid.
type KmerPPL struct {
	Orders []KmerOrderNLL `json:"orders"`
	// BestK has the best valid perplexity (with no valid split: the best
	// on the scored split, and ChosenOn says so).
	BestK    int    `json:"best_k"`
	ChosenOn string `json:"chosen_on"` // "valid", or the scored split's name
	Tuned    bool   `json:"tuned"`     // Dirichlet smoothing tuned on valid
}

// KmerOrderNLL is one order's score.
type KmerOrderNLL struct {
	K            int     `json:"k"`
	Perplexity   float64 `json:"perplexity"`
	NLLPerToken  float64 `json:"nll_per_token"`
	BitsPerToken float64 `json:"bits_per_token"`
	Tokens       int64   `json:"tokens"`
	NLL          NLL     `json:"-"`
}

// Best is the chosen order's score.
func (p KmerPPL) Best() KmerOrderNLL {
	for _, o := range p.Orders {
		if o.K == p.BestK {
			return o
		}
	}
	return KmerOrderNLL{}
}

// KmerPerplexity is the k-mer row of every perplexity table (`seqdiff eval
// kmer` and the study): order-k Markov models counted on the train split,
// Dirichlet smoothing tuned on valid (unless NoTune), each order scored on
// the first MaxRows rows of split, and the order with the best valid
// perplexity chosen, never the scored split's when there is a valid split
// to choose on (split "valid" itself: nothing is tuned or chosen on it).
// open opens a split by name (a dataprep.Dataset's Split).
func KmerPerplexity(open func(name string) (Split, error), split string, o KmerPPLOptions) (KmerPPL, error) {
	var res KmerPPL
	train, err := open("train")
	if err != nil {
		return res, err
	}
	test, err := open(split)
	if err != nil {
		return res, err
	}
	var valid Split
	if split != "valid" {
		if valid, err = open("valid"); err != nil {
			return res, err
		}
	}
	if len(o.Orders) == 0 {
		return res, errors.New("kmer perplexity: no orders")
	}
	for _, k := range o.Orders {
		if k < 0 || k > MaxKmerOrder {
			return res, fmt.Errorf("kmer order %d outside 0..%d", k, MaxKmerOrder)
		}
	}
	km, err := NewKmer(KmerConfig{Order: slices.Max(o.Orders)})
	if err != nil {
		return res, err
	}
	for i := range train.Rows() {
		km.Add(train.Row(i))
	}
	var vrows [][]uint8
	if valid != nil {
		vrows = rows(valid, 0)
	}
	if len(vrows) > 0 && !o.NoTune {
		if _, err := km.TuneAlpha(vrows); err != nil {
			return res, err
		}
		res.Tuned = true
	}
	trows := rows(test, o.MaxRows)
	best := -1.0
	for _, k := range o.Orders {
		nll, err := km.Perplexity(trows, k)
		if err != nil {
			return res, err
		}
		res.Orders = append(res.Orders, KmerOrderNLL{K: k, Perplexity: nll.Perplexity(), NLLPerToken: nll.PerToken(),
			BitsPerToken: nll.BitsPerToken(), Tokens: nll.Tokens, NLL: nll})
		choose := nll
		if len(vrows) > 0 {
			if choose, err = km.Perplexity(vrows, k); err != nil {
				return res, err
			}
		}
		if best < 0 || choose.Perplexity() < best {
			best, res.BestK = choose.Perplexity(), k
		}
	}
	res.ChosenOn = split
	if len(vrows) > 0 {
		res.ChosenOn = "valid"
	}
	return res, nil
}

func rows(s Split, max int) [][]uint8 {
	n := s.Rows()
	if max > 0 {
		n = min(n, max)
	}
	out := make([][]uint8, n)
	for i := range out {
		out[i] = s.Row(i)
	}
	return out
}
