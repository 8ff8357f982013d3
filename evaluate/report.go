package evaluate

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/seqdiff/seqdiff/internal/atomicfile"
)

// Report is a perplexity result as seqdiff reports it: `seqdiff eval ppl
// --json`, a study's OUT/models/M/ppl.json (models and the k-mer row) and
// what `seqdiff plot` reads. One type, so the three never drift apart.
type Report struct {
	Checkpoint   string  `json:"checkpoint"` // the model, or the baseline's description
	Mode         string  `json:"mode"`       // mdlm, ar, mlm or kmer
	Split        string  `json:"split"`
	Perplexity   float64 `json:"perplexity"`
	NLLPerToken  float64 `json:"nll_per_token"`
	BitsPerToken float64 `json:"bits_per_token"`
	Bound        bool    `json:"bound"`           // an upper bound (MDLM's NELBO)
	Draws        int     `json:"draws,omitempty"` // MDLM: draws K of (t, mask) per sequence
	Seed         uint64  `json:"seed"`
	Tokens       int64   `json:"tokens"`
	Rows         int     `json:"rows"`
	EMA          bool    `json:"ema"`
	KmerOrder    int     `json:"kmer_order,omitempty"` // the k-mer baseline's order, chosen on valid
}

// KmerMode is the Mode of a k-mer baseline's report.
const KmerMode = "kmer"

// NewReport is the report of n, scored on split by the model or baseline
// named checkpoint of the given mode.
func NewReport(n NLL, checkpoint, mode, split string) Report {
	r := Report{Checkpoint: checkpoint, Mode: mode, Split: split, Perplexity: n.Perplexity(), NLLPerToken: n.PerToken(),
		BitsPerToken: n.BitsPerToken(), Bound: n.Bound, Tokens: n.Tokens, Rows: n.Rows}
	if n.Bound {
		r.Draws = n.K
	}
	return r
}

// Kind says how to read the perplexity.
func (r Report) Kind() string {
	switch {
	case r.Bound:
		return fmt.Sprintf("upper bound, K = %d", r.Draws)
	case r.Mode == KmerMode:
		return fmt.Sprintf("exact, order %d chosen on valid", r.KmerOrder)
	case r.Mode == "mlm":
		return "masked-token CE, not a sequence perplexity"
	}
	return "exact"
}

// Summary is the report in one line, as `seqdiff eval ppl` and the study
// print it; unit is "base" for DNA, "token" for text.
func (r Report) Summary(unit string) string {
	le := ""
	if r.Bound {
		le = "<= "
	}
	return fmt.Sprintf("%s perplexity %s%.4f (%s), %.4f nats/%s, %.4f bits/%s over %d tokens",
		r.Split, le, r.Perplexity, r.Kind(), r.NLLPerToken, unit, r.BitsPerToken, unit, r.Tokens)
}

// WriteJSON writes the report to path atomically.
func (r Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'))
}

// ReadReport reads a report written by WriteJSON (or eval ppl --json).
func ReadReport(path string) (Report, error) {
	var r Report
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}
