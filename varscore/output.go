package varscore

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Header is what a score file says about how it was made.
type Header struct {
	Checkpoint string `json:"checkpoint"`
	Mode       string `json:"mode"`
	Weights    string `json:"weights"` // "ema" or "trained"
	SeqLen     int    `json:"seq_len"`
	FASTA      string `json:"fasta"`
	VCF        string `json:"vcf"`
	Window     int    `json:"window"`
	WindowRule string `json:"window_rule"`
	// Strands is "forward", or "both" with --rc (score = the mean of
	// score_fwd and score_rc, the windows reverse-complemented).
	Strands string            `json:"strands"`
	Units   string            `json:"units"`
	Sign    string            `json:"sign"`
	Methods map[string]string `json:"methods"`
	Draws   int               `json:"draws,omitempty"` // NELBO draws K (mdlm, mlm)
	Seed    uint64            `json:"seed"`
}

// Header describes s's output for the files named.
func (s *Scorer) Header(ckpt string, ema bool, fasta, vcf string) Header {
	h := Header{Checkpoint: ckpt, Mode: s.m.Cfg.Mode, Weights: "trained", SeqLen: s.m.Cfg.SeqLen, FASTA: fasta, VCF: vcf,
		Window: s.W, WindowRule: s.WindowRule(), Strands: "forward", Units: "nats",
		Sign: "positive = the model finds ALT more likely than REF", Methods: s.Describe(), Seed: s.o.Seed}
	if ema {
		h.Weights = "ema"
	}
	if s.o.RC {
		h.Strands = "both"
	}
	if s.Mode() != "ar" {
		h.Draws = s.o.Draws
	}
	return h
}

// Summary counts what a run scored.
type Summary struct {
	Records int            `json:"records"`
	Rows    int            `json:"rows"`
	Scored  int            `json:"scored"`
	Errors  int            `json:"errors"`
	ByKind  map[string]int `json:"errors_by_kind"`
	// ByMethod counts the scored rows of each method.
	ByMethod map[string]int `json:"scored_by_method"`
	Seconds  float64        `json:"seconds"`
	// RecordsPerS is VCF records (variants) scored per second, rows
	// (ALT alleles) included.
	RecordsPerS float64 `json:"records_per_s"`
}

// Add counts rows of n records.
func (s *Summary) Add(n int, rows []Row) {
	if s.ByKind == nil {
		s.ByKind, s.ByMethod = map[string]int{}, map[string]int{}
	}
	s.Records += n
	for _, r := range rows {
		s.Rows++
		if r.ErrKind != "" {
			s.Errors++
			s.ByKind[r.ErrKind]++
		} else {
			s.Scored++
			s.ByMethod[r.Method]++
		}
	}
}

// String is the summary in a line.
func (s Summary) String() string {
	out := fmt.Sprintf("%d records, %d ALT rows: %d scored", s.Records, s.Rows, s.Scored)
	if len(s.ByMethod) > 0 {
		out += " (" + counts(s.ByMethod) + ")"
	}
	out += fmt.Sprintf(", %d errors", s.Errors)
	if s.Errors > 0 {
		out += " (" + counts(s.ByKind) + ")"
	}
	return out
}

func counts(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
	}
	return strings.Join(parts, ", ")
}

// Writer writes score rows as TSV or JSON.
type Writer struct {
	w     *bufio.Writer
	json  bool
	rc    bool
	first bool
}

// NewWriter starts the output on w: TSV (a '#' header, then a row a line)
// or, with asJSON, one JSON object {"header": ..., "rows": [...],
// "summary": ...} written as the rows come.
func NewWriter(w io.Writer, h Header, asJSON bool) (*Writer, error) {
	out := &Writer{w: bufio.NewWriterSize(w, 1<<16), json: asJSON, rc: h.Strands == "both", first: true}
	if asJSON {
		b, err := json.Marshal(h)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(out.w, "{\"header\": %s,\n\"rows\": [", b)
		return out, nil
	}
	p := func(format string, a ...any) { fmt.Fprintf(out.w, "# "+format+"\n", a...) }
	p("seqdiff score: zero-shot variant scores in %s; %s", h.Units, h.Sign)
	p("checkpoint: %s (mode %s, %s weights, seq_len %d)", h.Checkpoint, h.Mode, h.Weights, h.SeqLen)
	p("fasta: %s", h.FASTA)
	p("vcf: %s", h.VCF)
	p("window: %s", h.WindowRule)
	if out.rc {
		p("strands: both; score = (score_fwd + score_rc) / 2, score_rc on the reverse complement of the same windows")
	} else {
		p("strands: forward")
	}
	for _, k := range slices.Sorted(maps.Keys(h.Methods)) {
		p("method %s: %s", k, h.Methods[k])
	}
	if h.Draws > 0 {
		p("draws: %d", h.Draws)
		p("seed: %d", h.Seed)
	}
	p("columns: score in nats (NA when error is set); error is '.' or KIND: message")
	cols := []string{"CHROM", "POS", "ID", "REF", "ALT", "score"}
	if out.rc {
		cols = append(cols, "score_fwd", "score_rc")
	}
	cols = append(cols, "method", "error")
	out.w.WriteString(strings.Join(cols, "\t") + "\n")
	return out, nil
}

// jsonRow is a Row as the JSON output holds it.
type jsonRow struct {
	Chrom  string   `json:"chrom"`
	Pos    int      `json:"pos"`
	ID     string   `json:"id"`
	Ref    string   `json:"ref"`
	Alt    string   `json:"alt"`
	Line   int      `json:"line"`
	Score  *float64 `json:"score"`
	Fwd    *float64 `json:"score_fwd,omitempty"`
	RC     *float64 `json:"score_rc,omitempty"`
	Method string   `json:"method"`
	Contig string   `json:"contig,omitempty"`
	Start  *int     `json:"window_start,omitempty"`
	Offset *int     `json:"variant_offset,omitempty"`
	Kind   string   `json:"error_kind,omitempty"`
	Error  string   `json:"error,omitempty"`
}

func num(x float64) *float64 {
	if math.IsNaN(x) {
		return nil
	}
	return &x
}

// Write writes rows.
func (o *Writer) Write(rows []Row) error {
	for _, r := range rows {
		if o.json {
			j := jsonRow{Chrom: r.Chrom, Pos: r.Pos, ID: r.ID, Ref: r.Ref, Alt: r.Alt, Line: r.Line, Score: num(r.Score),
				Method: r.Method, Contig: r.Contig, Kind: r.ErrKind, Error: r.Err}
			if o.rc {
				j.Fwd, j.RC = num(r.Fwd), num(r.RC)
			}
			if r.ErrKind == "" {
				j.Start, j.Offset = &r.Start, &r.Offset
			}
			b, err := json.Marshal(j)
			if err != nil {
				return err
			}
			if !o.first {
				o.w.WriteString(",")
			}
			o.w.WriteString("\n")
			o.w.Write(b)
			o.first = false
			continue
		}
		f := []string{r.Chrom, strconv.Itoa(r.Pos), r.ID, r.Ref, r.Alt, tsvNum(r.Score)}
		if o.rc {
			f = append(f, tsvNum(r.Fwd), tsvNum(r.RC))
		}
		method, e := r.Method, "."
		if method == "" {
			method = "."
		}
		if r.ErrKind != "" {
			e = r.ErrKind + ": " + strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(r.Err)
		}
		f = append(f, method, e)
		if _, err := o.w.WriteString(strings.Join(f, "\t") + "\n"); err != nil {
			return err
		}
	}
	return nil
}

func tsvNum(x float64) string {
	if math.IsNaN(x) {
		return "NA"
	}
	return strconv.FormatFloat(x, 'f', 9, 64)
}

// Close ends the output with the summary (a '#' line in TSV) and flushes.
func (o *Writer) Close(s Summary) error {
	if s.ByKind == nil {
		s.ByKind, s.ByMethod = map[string]int{}, map[string]int{}
	}
	if o.json {
		b, err := json.Marshal(s)
		if err != nil {
			return err
		}
		fmt.Fprintf(o.w, "\n],\n\"summary\": %s}\n", b)
	} else {
		fmt.Fprintf(o.w, "# summary: %s\n", s)
	}
	return o.w.Flush()
}
