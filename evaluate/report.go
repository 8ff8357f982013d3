package evaluate

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/seqdiff/seqdiff/internal/atomicfile"
)

// Report is a perplexity result as seqdiff reports it: `seqdiff eval ppl
// --json`, a study's OUT/models/M/ppl.json (models and the k-mer row) and
// what `seqdiff plot` reads. One type, so the three never drift apart.
type Report struct {
	Checkpoint   string  `json:"checkpoint"` // the model, or the baseline's description
	Mode         string  `json:"mode"`       // mdlm, ar, mlm, kmer or kmer-bidirectional
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
	// KmerOrder is the k-mer baseline's order, chosen on valid; for the
	// bidirectional one, M, the most visible bases it sees on each side.
	KmerOrder int `json:"kmer_order,omitempty"`
	// ByT (bounds only) splits the NELBO into TBins bins of the time t of
	// the draws: [{t_lo, t_hi, nll_per_token, tokens}], tokens summing to
	// Tokens and the token-weighted mean of nll_per_token to NLLPerToken.
	ByT []TBin `json:"by_t,omitempty"`
}

const (
	// KmerMode is the Mode of a k-mer baseline's report.
	KmerMode = "kmer"
	// KmerBidirMode is the Mode of the bidirectional k-mer floor's report
	// (BiKmer scored under MDLM's NELBO).
	KmerBidirMode = "kmer-bidirectional"
)

// NewReport is the report of n, scored on split by the model or baseline
// named checkpoint of the given mode.
func NewReport(n NLL, checkpoint, mode, split string) Report {
	r := Report{Checkpoint: checkpoint, Mode: mode, Split: split, Perplexity: n.Perplexity(), NLLPerToken: n.PerToken(),
		BitsPerToken: n.BitsPerToken(), Bound: n.Bound, Tokens: n.Tokens, Rows: n.Rows, ByT: n.ByT}
	if n.Bound {
		r.Draws = n.K
	}
	return r
}

// Kind says how to read the perplexity.
func (r Report) Kind() string {
	switch {
	case r.Mode == KmerBidirMode:
		return fmt.Sprintf("upper bound, K = %d, up to %d visible bases each side", r.Draws, r.KmerOrder)
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

// WriteByT prints ByT as a small table (nothing when there are no bins).
func (r Report) WriteByT(w io.Writer) {
	if len(r.ByT) == 0 {
		return
	}
	fmt.Fprintf(w, "NELBO by t (each draw's term in the bin of its t, with its row's tokens / K):\n%-10s  %10s  %11s\n", "t", "nats/token", "tokens")
	for _, b := range r.ByT {
		end := ")"
		if b.THi == 1 {
			end = "]" // the last bin holds t = 1
		}
		fmt.Fprintf(w, "[%.1f, %.1f%s  %10.4f  %11.1f\n", b.TLo, b.THi, end, b.NLLPerToken, b.Tokens)
	}
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

// WriteRowsTSV writes per-row scores to path atomically as TSV with the
// header row, tokens, nll, nll_per_token (nats, shortest exact decimals so
// that the rows add up to the total).
func WriteRowsTSV(path string, rows []RowNLL) error {
	var b strings.Builder
	b.WriteString("row\ttokens\tnll\tnll_per_token\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%d\t%d\t%s\t%s\n", r.Row, r.Tokens, strconv.FormatFloat(r.NLL, 'g', -1, 64), strconv.FormatFloat(r.PerToken(), 'g', -1, 64))
	}
	if err := atomicfile.WriteFile(path, []byte(b.String())); err != nil {
		return fmt.Errorf("per-row scores: %w", err)
	}
	return nil
}
