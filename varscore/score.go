package varscore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"

	"github.com/seqdiff/seqdiff/evaluate"
	"github.com/seqdiff/seqdiff/genome"
	"github.com/seqdiff/seqdiff/mdlm"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/train"
	"github.com/seqdiff/seqdiff/vocab"
)

// The scoring methods, as the output names them.
const (
	MethodAR     = "ar_llr"          // AR: log p(ALT window) - log p(REF window), exact
	MethodMasked = "masked_marginal" // MDLM, MLM, same-length alleles: log p(ALT | context) - log p(REF | context) at the masked sites
	MethodNELBO  = "nelbo_diff"      // MDLM, MLM, indels: NELBO(REF window) - NELBO(ALT window)
)

// Defaults of Options.
const (
	DefaultDraws = 16
	DefaultBatch = 32
	// MinWindow is the shortest window scored.
	MinWindow = 4
)

// Options configure a Scorer.
type Options struct {
	Window int    // bases per window (0: the model's seq_len); at most seq_len
	RC     bool   // also score the reverse-complement windows and average
	Draws  int    // NELBO draws K of (t, mask) per window (0: DefaultDraws)
	Seed   uint64 // seed of the NELBO draws
	Batch  int    // windows per forward pass (0: DefaultBatch)
}

// Row is the score of one ALT allele of a VCF record. Score, Fwd and RC
// are NaN when Err is set.
type Row struct {
	Chrom string
	Pos   int
	ID    string
	Ref   string
	Alt   string
	Line  int // the record's line in the VCF

	// Method is how the allele is scored (MethodAR, MethodMasked,
	// MethodNELBO; "" when no method applies, as for a symbolic ALT).
	Method string
	// Score is Fwd, or with Options.RC the mean of Fwd and RC, in nats:
	// positive when the model finds ALT more likely than REF.
	Score, Fwd, RC float64

	// Contig is the FASTA record the VCF's CHROM resolved to; the REF
	// window holds its bases [Start, Start+Window), 0-based, with the
	// variant's first REF base at offset Offset.
	Contig        string
	Start, Offset int

	// ErrKind is a short name of the problem (ErrRefMismatch, ...) and Err
	// the message, when the allele could not be scored.
	ErrKind, Err string
}

// The kinds of Row.ErrKind.
const (
	ErrMissingContig = "missing_contig"
	ErrPastEnd       = "past_end"
	ErrRefMismatch   = "ref_mismatch"
	ErrSymbolic      = "symbolic_alt"
	ErrBreakend      = "breakend_alt"
	ErrStar          = "star_alt"
	ErrNoAlt         = "no_alt"
	ErrSameAsRef     = "alt_equals_ref"
	ErrTooLong       = "allele_too_long"
	ErrContigShort   = "contig_too_short"
	ErrOffContig     = "window_off_contig"
	ErrBadAllele     = "bad_allele"
)

// Scorer scores VCF records with one model in windows of one reference.
type Scorer struct {
	m      *nn.Model
	ref    Reference
	o      Options
	W      int
	names  []string
	chroms map[string]contig
}

type contig struct {
	name   string
	length int
	err    string
}

// New checks that m is a DNA model and o fits it.
func New(m *nn.Model, ref Reference, o Options) (*Scorer, error) {
	c := m.Cfg
	if t := c.Tokenizer; (t != "" && t != vocab.DNATokenizer) || c.VocabSize != vocab.DNASize || c.MaskID != vocab.Mask || c.PadID != vocab.Pad {
		return nil, fmt.Errorf("score: the checkpoint is not a DNA model (tokenizer %q, vocabulary %d)", c.Tokenizer, c.VocabSize)
	}
	switch c.Mode {
	case nn.ModeAR, nn.ModeMDLM, nn.ModeMLM:
	default:
		return nil, fmt.Errorf("score: mode %q: want ar, mdlm or mlm", c.Mode)
	}
	if o.Window == 0 {
		o.Window = c.SeqLen
	}
	if o.Window < MinWindow || o.Window > c.SeqLen {
		return nil, fmt.Errorf("%w: window %d outside %d..%d (the checkpoint's seq_len)", ErrWindow, o.Window, MinWindow, c.SeqLen)
	}
	if o.Draws == 0 {
		o.Draws = DefaultDraws
	}
	if o.Batch == 0 {
		o.Batch = DefaultBatch
	}
	if o.Draws < 1 || o.Batch < 1 {
		return nil, fmt.Errorf("score: draws %d and batch %d must be at least 1", o.Draws, o.Batch)
	}
	return &Scorer{m: m, ref: ref, o: o, W: o.Window, names: ref.Names(), chroms: map[string]contig{}}, nil
}

// ErrWindow is a window that does not fit the model.
var ErrWindow = errors.New("score: bad window")

// Options returns the options in use, defaults filled in.
func (s *Scorer) Options() Options { return s.o }

// Mode is the model's mode.
func (s *Scorer) Mode() string { return s.m.Cfg.Mode }

// Method is how an allele of REF length r and ALT length a is scored.
func (s *Scorer) Method(r, a int) string {
	switch {
	case s.m.Cfg.Mode == nn.ModeAR:
		return MethodAR
	case r == a:
		return MethodMasked
	}
	return MethodNELBO
}

// resolve maps a VCF CHROM onto a FASTA record (genome.ResolveName: the
// name itself, else the one record equal to it after dropping a leading
// "chr" and ignoring case, with M = MT).
func (s *Scorer) resolve(chrom string) (contig, error) {
	if c, ok := s.chroms[chrom]; ok {
		return c, nil
	}
	var c contig
	name, err := genome.ResolveName(chrom, s.names)
	if err != nil {
		c.err = fmt.Sprintf("contig %q is not in the FASTA", chrom)
		if errors.Is(err, genome.ErrAmbiguousName) {
			c.err = fmt.Sprintf("contig %q matches several FASTA records", chrom)
		}
	} else {
		c.name = name
		if c.length, err = s.ref.Len(name); err != nil {
			return c, err
		}
	}
	s.chroms[chrom] = c
	return c, nil
}

// place puts a window of W bases around an allele of REF length r and ALT
// length a at 0-based p0 on a contig of clen bases. It returns the start
// of the reference span the two windows read (W bases, plus r - a for a
// deletion, whose ALT window reads further right) and the offset of the
// allele in both windows. The allele is centred: m = max(r, a) bases of
// allele after floor((W - m) / 2) bases of left flank. Near a contig end
// the span is shifted (as little as needed) to stay inside, the variant
// off centre; the allele always lies whole inside both windows.
func place(W, clen, p0, r, a int) (start, lf int, kind, msg string) {
	m := max(r, a)
	if m > W-2 {
		return 0, 0, ErrTooLong, fmt.Sprintf("an allele of %d bases leaves no flank in a window of %d", m, W)
	}
	need := W + max(0, r-a)
	lo, hi := max(0, p0-(W-m)), min(p0, clen-need)
	if lo > hi {
		if need > clen {
			return 0, 0, ErrContigShort, fmt.Sprintf("the windows need %d bases of the contig, which has %d", need, clen)
		}
		return 0, 0, ErrOffContig, fmt.Sprintf("a window of %d bases holding the allele would run off the end of the contig (%d bp)", W, clen)
	}
	start = min(max(p0-(W-m)/2, lo), hi)
	return start, p0 - start, "", ""
}

// windows returns the REF and ALT windows of seg (the reference span from
// place) for alleles ref and alt at offset lf: both W bases, the left flank
// shared, the shorter allele followed by more of the reference.
func windows(seg []byte, W, lf int, ref, alt string) (refWin, altWin []byte) {
	r, a := len(ref), len(alt)
	refWin = seg[:W]
	altWin = make([]byte, 0, W)
	altWin = append(altWin, seg[:lf]...)
	altWin = append(altWin, alt...)
	altWin = append(altWin, seg[lf+r:W+r-a]...)
	return refWin, altWin
}

// baseID maps A C G T N to their token ids.
var baseID = func() (t [256]int32) {
	for i := range t {
		t[i] = -1
	}
	for b, id := range map[byte]int32{'A': vocab.A, 'C': vocab.C, 'G': vocab.G, 'T': vocab.T, 'N': vocab.N} {
		t[b] = id
	}
	return t
}()

func ids(bases []byte) []int32 {
	out := make([]int32, len(bases))
	for i, b := range bases {
		out[i] = baseID[b]
	}
	return out
}

func rcIDs(x []int32) []int32 {
	out := append([]int32(nil), x...)
	vocab.ReverseComplement(out)
	return out
}

// site is a masked position of a window and the REF and ALT ids there.
type site struct {
	pos      int
	ref, alt int32
}

// strand is what one strand's score reads: rows of the pool of its method
// (masked: ref is the masked window, alt unused) and the masked sites.
type strand struct {
	ref, alt int
	sites    []site
}

type task struct {
	row     int
	method  string
	fwd, rc strand
}

// Score scores every ALT allele of recs: one Row per allele, in order.
// A problem with one allele (a REF that does not match the FASTA, a
// contig missing from it, a symbolic ALT, ...) goes into its Row and the
// others are scored; the error is for failures of the reference or the
// model.
//
// The windows of all of recs are pooled and deduplicated (the REF window
// of a multi-allelic record is run once; a masked-marginal forward serves
// every ALT at its site) and run Options.Batch at a time.
//
// AR scores run each window whole, REF and ALT side by side in a batch,
// rather than the KV-cache decoder (nn.Decoder) over their shared left
// flank followed by the two suffixes: the flank is half the window, so
// sharing it saves at most a quarter of the work, while the decoder steps
// one position at a time (seq_len/2 small matrix products per window on the
// CPU, as many kernel launches on a GPU, against one batched forward) and
// matches the forward pass only to float32 rounding, so the score would
// no longer be the exact window log-likelihood that train.ScoreDNA gives.
//
// Score stops with ctx's cause between forward passes once ctx is done.
func (s *Scorer) Score(ctx context.Context, recs []genome.VCFRecord) ([]Row, error) {
	var rows []Row
	var tasks []task
	ar, mk, nb := newPool(s.W), newPool(s.W), newPool(s.W)
	for _, rec := range recs {
		base := Row{Chrom: rec.Chrom, Pos: rec.Pos, ID: rec.ID, Ref: rec.Ref, Line: rec.Line, Score: math.NaN(), Fwd: math.NaN(), RC: math.NaN()}
		c, err := s.resolve(rec.Chrom)
		if err != nil {
			return nil, err
		}
		refN := genome.NormaliseAllele(rec.Ref)
		kind, msg := s.checkRef(c, rec, refN)
		base.Contig = c.name
		for _, alt := range rec.Alts {
			row := base
			row.Alt = alt
			if kind != "" {
				row.ErrKind, row.Err = kind, msg
				rows = append(rows, row)
				continue
			}
			t, kind, msg, err := s.plan(&row, c, rec, refN, alt, ar, mk, nb)
			if err != nil {
				return nil, err
			}
			if kind != "" {
				row.ErrKind, row.Err = kind, msg
			} else {
				t.row = len(rows)
				tasks = append(tasks, t)
			}
			rows = append(rows, row)
		}
	}
	arNLL, err := s.runAR(ctx, ar)
	if err != nil {
		return nil, err
	}
	logits, err := s.runMasked(ctx, mk)
	if err != nil {
		return nil, err
	}
	nelbo, err := s.runNELBO(ctx, nb)
	if err != nil {
		return nil, err
	}
	V := s.m.Cfg.VocabSize
	one := func(method string, st strand) float64 {
		switch method {
		case MethodAR:
			return arNLL[st.ref] - arNLL[st.alt]
		case MethodNELBO:
			return nelbo[st.ref] - nelbo[st.alt]
		}
		l := logits[st.ref]
		pos := mk.sites[st.ref]
		var sum float64
		for _, x := range st.sites {
			j := indexOf(pos, x.pos)
			sum += float64(l[j*V+int(x.alt)]) - float64(l[j*V+int(x.ref)])
		}
		return sum
	}
	for _, t := range tasks {
		r := &rows[t.row]
		r.Fwd = one(t.method, t.fwd)
		r.Score = r.Fwd
		if s.o.RC {
			r.RC = one(t.method, t.rc)
			r.Score = (r.Fwd + r.RC) / 2
		}
	}
	return rows, nil
}

func indexOf(xs []int, x int) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	panic("varscore: masked site not in its window")
}

// checkRef checks a record's position and REF against the FASTA.
func (s *Scorer) checkRef(c contig, rec genome.VCFRecord, refN string) (kind, msg string) {
	switch {
	case c.err != "":
		return ErrMissingContig, c.err
	case rec.Pos < 1:
		return ErrPastEnd, fmt.Sprintf("POS %d is before the first base (VCF positions start at 1)", rec.Pos)
	case rec.Pos > c.length:
		return ErrPastEnd, fmt.Sprintf("POS %d is past the end of %s (%d bp)", rec.Pos, c.name, c.length)
	case rec.Pos-1+len(refN) > c.length:
		return ErrPastEnd, fmt.Sprintf("REF of %d bases at POS %d runs past the end of %s (%d bp)", len(refN), rec.Pos, c.name, c.length)
	}
	return "", ""
}

// plan checks one ALT allele, builds its windows into the pools and
// returns its task, or the kind and message of why it cannot be scored.
func (s *Scorer) plan(row *Row, c contig, rec genome.VCFRecord, refN, alt string, ar, mk, nb *pool) (t task, kind, msg string, err error) {
	ak, perr := genome.ParseAllele(alt)
	switch {
	case perr != nil:
		return t, ErrBadAllele, fmt.Sprintf("ALT %q: %v", alt, perr), nil
	case ak == genome.AlleleSymbolic:
		return t, ErrSymbolic, fmt.Sprintf("symbolic ALT %s has no sequence to score", alt), nil
	case ak == genome.AlleleBreakend:
		return t, ErrBreakend, fmt.Sprintf("breakend ALT %s is not scored", alt), nil
	case ak == genome.AlleleStar:
		return t, ErrStar, "ALT * (an allele removed by an overlapping deletion) has no sequence to score", nil
	case ak == genome.AlleleMissing:
		return t, ErrNoAlt, "ALT . (no alternate allele)", nil
	}
	p0 := rec.Pos - 1
	got, err := s.ref.Fetch(c.name, p0, p0+len(refN))
	if err != nil {
		return t, "", "", err
	}
	if string(got) != refN {
		return t, ErrRefMismatch, fmt.Sprintf("REF %s does not match the FASTA's %s at %s:%d", clipAllele(rec.Ref), clipAllele(string(got)), c.name, rec.Pos), nil
	}
	altN := genome.NormaliseAllele(alt)
	if altN == refN {
		return t, ErrSameAsRef, fmt.Sprintf("ALT %s equals REF", clipAllele(alt)), nil
	}
	r, a := len(refN), len(altN)
	start, lf, kind, msg := place(s.W, c.length, p0, r, a)
	if kind != "" {
		return t, kind, msg, nil
	}
	seg, err := s.ref.Fetch(c.name, start, start+s.W+max(0, r-a))
	if err != nil {
		return t, "", "", err
	}
	row.Start, row.Offset = start, lf
	refWin, altWin := windows(seg, s.W, lf, refN, altN)
	t.method = s.Method(r, a)
	row.Method = t.method
	refIDs, altIDs := ids(refWin), ids(altWin)
	switch t.method {
	case MethodAR:
		t.fwd = strand{ref: ar.add(refIDs, 0), alt: ar.add(altIDs, 0)}
		if s.o.RC {
			t.rc = strand{ref: ar.add(rcIDs(refIDs), 0), alt: ar.add(rcIDs(altIDs), 0)}
		}
	case MethodNELBO:
		key := recordKey(c.name, rec.Pos, refN)
		t.fwd = strand{ref: nb.add(refIDs, key), alt: nb.add(altIDs, key)}
		if s.o.RC {
			t.rc = strand{ref: nb.add(rcIDs(refIDs), key), alt: nb.add(rcIDs(altIDs), key)}
		}
	case MethodMasked:
		// The differing sites, masked together in the REF window (one
		// site for an SNV); their log-ratios add up.
		var fwd, rc []site
		for i := 0; i < r; i++ {
			if refN[i] != altN[i] {
				p := lf + i
				fwd = append(fwd, site{pos: p, ref: refIDs[p], alt: altIDs[p]})
				rc = append(rc, site{pos: s.W - 1 - p, ref: vocab.Complement(refIDs[p]), alt: vocab.Complement(altIDs[p])})
			}
		}
		t.fwd = strand{ref: mk.addMasked(refIDs, fwd), sites: fwd}
		if s.o.RC {
			t.rc = strand{ref: mk.addMasked(rcIDs(refIDs), rc), sites: rc}
		}
	}
	return t, "", "", nil
}

// recordKey keys the NELBO draws of a record's windows: the REF and ALT
// windows of every ALT of one record (on both strands) draw the same
// times and masks, whatever the batch, the order or the file they come in.
func recordKey(contig string, pos int, ref string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(contig + "\x00" + strconv.Itoa(pos) + "\x00" + ref))
	return h.Sum64()
}

func clipAllele(a string) string {
	if len(a) > 20 {
		return a[:20] + "..."
	}
	return a
}

// pool holds the distinct windows (W ids each) one method runs the model
// on, each with its NELBO key and, for masked windows, the masked
// positions in order.
type pool struct {
	W     int
	ids   []int32
	keys  []uint64
	sites [][]int
	idx   map[string]int
}

func newPool(W int) *pool { return &pool{W: W, idx: map[string]int{}} }

func (p *pool) rows() int { return len(p.keys) }

// add returns the index of the window x with key, adding it when new.
func (p *pool) add(x []int32, key uint64) int {
	k := make([]byte, 0, len(x)+8)
	for _, id := range x {
		k = append(k, byte(id))
	}
	for i := range 8 {
		k = append(k, byte(key>>(8*i)))
	}
	if i, ok := p.idx[string(k)]; ok {
		return i
	}
	i := p.rows()
	p.idx[string(k)] = i
	p.ids = append(p.ids, x...)
	p.keys = append(p.keys, key)
	p.sites = append(p.sites, nil)
	return i
}

// addMasked adds x with the sites masked.
func (p *pool) addMasked(x []int32, sites []site) int {
	z := append([]int32(nil), x...)
	for _, st := range sites {
		z[st.pos] = vocab.Mask
	}
	i := p.add(z, 0)
	if p.sites[i] == nil {
		for j, id := range z {
			if id == vocab.Mask {
				p.sites[i] = append(p.sites[i], j)
			}
		}
	}
	return i
}

func (p *pool) Rows() int { return p.rows() }

func (p *pool) ReadRows(dst []int32, start int) int {
	n := copy(dst, p.ids[min(start*p.W, len(p.ids)):])
	for i := n; i < len(dst); i++ {
		dst[i] = vocab.Pad
	}
	return n / p.W
}

// runAR is the exact AR NLL of each window of p: train.Evaluate, the path
// eval ppl and train.ScoreDNA take (every position but the first
// predicted), a batch at a time.
func (s *Scorer) runAR(ctx context.Context, p *pool) ([]float64, error) {
	out := make([]float64, p.rows())
	for start := 0; start < p.rows(); start += s.o.Batch {
		if err := stopped(ctx); err != nil {
			return nil, err
		}
		B := min(s.o.Batch, p.rows()-start)
		part := &pool{W: p.W, ids: p.ids[start*p.W : (start+B)*p.W], keys: p.keys[start : start+B]}
		_, err := train.Evaluate(s.m, part, s.W, train.EvalOptions{Batch: B, PerRow: func(r evaluate.RowNLL) { out[start+r.Row] = r.NLL }})
		if err != nil {
			return nil, fmt.Errorf("score: ar: %w", err)
		}
	}
	return out, nil
}

func stopped(ctx context.Context) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return nil
}

// runMasked returns the logits at the masked sites of each window of p
// (sites x V). A time-conditioned MDLM is given the time at which the
// log-linear schedule masks that share of the window.
func (s *Scorer) runMasked(ctx context.Context, p *pool) ([][]float32, error) {
	out := make([][]float32, p.rows())
	W, V := s.W, s.m.Cfg.VocabSize
	d := nn.Denoiser{M: s.m}
	for start := 0; start < p.rows(); start += s.o.Batch {
		if err := stopped(ctx); err != nil {
			return nil, err
		}
		B := min(s.o.Batch, p.rows()-start)
		z := p.ids[start*W : (start+B)*W]
		var pos []int32
		t := make([]float32, B)
		for b := range B {
			for _, i := range p.sites[start+b] {
				pos = append(pos, int32(b*W+i))
			}
			t[b] = float32(min(1, float64(len(p.sites[start+b]))/float64(W)/(1-mdlm.DefaultEps)))
		}
		l := make([]float32, len(pos)*V)
		if err := d.LogitsAt(z, B, W, t, pos, l); err != nil {
			return nil, fmt.Errorf("score: masked marginal: %w", err)
		}
		for b := range B {
			n := len(p.sites[start+b])
			out[start+b], l = l[:n*V:n*V], l[n*V:]
		}
	}
	return out, nil
}

// runNELBO returns the NELBO of each window of p under its key.
func (s *Scorer) runNELBO(ctx context.Context, p *pool) ([]float64, error) {
	out := make([]float64, p.rows())
	if p.rows() == 0 {
		return out, nil
	}
	ev, err := mdlm.NewEvaluator(nn.Denoiser{M: s.m}, s.m.Cfg.Vocab(), mdlm.NELBOConfig{K: s.o.Draws, Seed: s.o.Seed})
	if err != nil {
		return nil, err
	}
	ev.PerRow = func(r evaluate.RowNLL) { out[r.Row] = r.NLL }
	W := s.W
	for start := 0; start < p.rows(); start += s.o.Batch {
		if err := stopped(ctx); err != nil {
			return nil, err
		}
		B := min(s.o.Batch, p.rows()-start)
		if err := ev.AddKeyed(p.ids[start*W:(start+B)*W], B, W, p.keys[start:start+B]); err != nil {
			return nil, fmt.Errorf("score: nelbo: %w", err)
		}
	}
	return out, nil
}

// Describe says how each method scores, for the output's header.
func (s *Scorer) Describe() map[string]string {
	d := map[string]string{}
	if s.m.Cfg.Mode == nn.ModeAR {
		d[MethodAR] = "every variant: log p(ALT window) - log p(REF window), the exact AR log-likelihoods of the two windows (each window's first base is not predicted)"
		return d
	}
	d[MethodMasked] = "SNVs and same-length substitutions: the masked marginal, log p(ALT | context) - log p(REF | context) summed over the differing sites, all masked in the REF window in one forward pass (log-softmax over the vocabulary without [MASK])"
	if s.m.Cfg.TimeConditioning {
		d[MethodMasked] += "; the time-conditioned model is given t = (masked sites / window) / (1 - eps), where the log-linear schedule masks that share"
	}
	d[MethodNELBO] = fmt.Sprintf("indels: NELBO(REF window) - NELBO(ALT window), K = %d draws of (t, mask) from seed %d, keyed by FASTA record, POS and REF so that the two windows of a record share their draws", s.o.Draws, s.o.Seed)
	if s.m.Cfg.Mode == nn.ModeMLM {
		d[MethodNELBO] += "; an MLM model was trained at a 15% mask rate, so its NELBO is not a bound on its own likelihood"
	}
	return d
}

// WindowRule is the placement of the windows, for the output's header.
func (s *Scorer) WindowRule() string {
	return strings.Join([]string{
		fmt.Sprintf("%d bases; the REF allele (r bases) and ALT allele (a bases) start after floor((%d - max(r, a)) / 2) bases of left flank", s.W, s.W),
		"the REF window is the reference there; the ALT window is the same left flank, the ALT allele, then the reference after the REF allele up to the same length",
		"near a contig end both windows shift to stay inside it (the variant then off centre); N is scored as a base",
	}, "; ")
}
