package evaluate

import (
	"fmt"
	"math"
	"slices"

	"github.com/seqdiff/seqdiff/vocab"
)

// MaxBidirOrder is the most bases a BiKmer sees on each side. Its dense
// tables hold 5 (sum_{j<=M} 4^j)^2 uint32 counts: 37 MB at M = 5, 600 MB
// at M = 6 (M = 7 would need 9.6 GB).
const MaxBidirOrder = 6

// biS is the number of symbols a BiKmer predicts: A C G T and N, since
// MDLM's NELBO scores every non-PAD token, N included.
const biS = 5

// BiKmer is MDLM's own floor: a count model that predicts a masked token
// from the visible bases around it, as a denoiser that has learned only
// local statistics would. For a masked position it takes the run of
// visible bases (A, C, G, T) right before it, up to M and stopping at the
// first masked position, N or row edge, and the same run right after it:
// l bases on the left, r on the right (0 <= l, r <= M). It predicts A, C,
// G, T or N from the counts on the train rows of that (left, right)
// context, with Dirichlet smoothing that backs off to shorter contexts:
//
//	p_(l,r)(w) = (c(left, right, w) + beta_(l,r) p_parent(w)) / (c(left, right) + beta_(l,r))
//
// where parent is (l-1, r) when l >= r, else (l, r-1) (the longer side
// shrinks first), and (0, 0) backs off to uniform over the five symbols.
// One concentration beta_(l,r) per context pair is tuned on validation
// rows (TuneBeta), as Kmer.TuneAlpha tunes one per order.
//
// Counting: every train position counts once in the table of its longest
// contexts (min(M, bases before it), min(M, bases after it)); the shorter
// tables are then summed from the longer ones, so the (l, r) table holds
// every position with at least l bases on the left and r on the right.
// The tables are dense (MaxBidirOrder).
//
// Logits makes it an mdlm.Denoiser, so mdlm.Evaluator scores it under the
// NELBO with the very draws of (t, mask) an MDLM checkpoint is scored with.
type BiKmer struct {
	m int
	// counts[l*(m+1)+r][(L*4^r+R)*5+w]: centre w with the l nearest left
	// bases L and the r nearest right bases R (base-4, the nearest base
	// least significant).
	counts [][]uint32
	beta   []float64 // per context pair
	chain  [][]int   // per context pair: the pairs p is built through, (0, 0) first
	// Targets counts the training positions (A, C, G, T or N).
	Targets int64
}

// biPos is a position's visible runs: the l nearest left bases L and the
// r nearest right bases R.
type biPos struct {
	L, R uint32
	l, r uint8
}

// FitBiKmer counts a BiKmer seeing up to m bases on each side on the rows
// of train, with beta 5 (add-one) for every context pair until TuneBeta.
func FitBiKmer(m int, train Split) (*BiKmer, error) {
	if m < 1 || m > MaxBidirOrder {
		return nil, fmt.Errorf("bidirectional k-mer: M = %d outside 1..%d", m, MaxBidirOrder)
	}
	k := &BiKmer{m: m}
	n := (m + 1) * (m + 1)
	k.counts = make([][]uint32, n)
	k.beta = make([]float64, n)
	k.chain = make([][]int, n)
	for l := 0; l <= m; l++ {
		for r := 0; r <= m; r++ {
			i := k.node(l, r)
			k.counts[i] = make([]uint32, (1<<(2*(l+r)))*biS)
			k.beta[i] = biS
			if p := k.parent(l, r); p >= 0 {
				k.chain[i] = append(slices.Clone(k.chain[p]), i)
			} else {
				k.chain[i] = []int{i}
			}
		}
	}
	var ps []biPos
	for i := range train.Rows() {
		row := train.Row(i)
		ps = biContexts(row, m, ps)
		for j, id := range row {
			w := symbol(id)
			if w < 0 {
				continue
			}
			p := ps[j]
			k.counts[k.node(int(p.l), int(p.r))][(int(p.L)<<(2*p.r)|int(p.R))*biS+w]++
			k.Targets++
		}
	}
	k.cumulate()
	return k, nil
}

// M is the most bases the model sees on each side.
func (k *BiKmer) M() int { return k.m }

func (k *BiKmer) node(l, r int) int { return l*(k.m+1) + r }

// parent is the pair (l, r) backs off to, -1 for (0, 0) (uniform).
func (k *BiKmer) parent(l, r int) int {
	switch {
	case l == 0 && r == 0:
		return -1
	case l >= r:
		return k.node(l-1, r)
	}
	return k.node(l, r-1)
}

// cumulate turns the counts of each position's longest contexts into
// those of every shorter one: (l, r) += (l', r') for all l' >= l, r' >= r,
// cut to l and r bases. Two passes of suffix sums, over l, then over r.
func (k *BiKmer) cumulate() {
	m := k.m
	for r := 0; r <= m; r++ {
		for l := m - 1; l >= 0; l-- {
			src, dst := k.counts[k.node(l+1, r)], k.counts[k.node(l, r)]
			lmask := uint32(1)<<(2*l) - 1
			for ctx := range uint32(len(src) / biS) {
				L, R := ctx>>(2*r), ctx&(uint32(1)<<(2*r)-1)
				d := ((L&lmask)<<(2*r) | R) * biS
				for w := range uint32(biS) {
					dst[d+w] += src[ctx*biS+w]
				}
			}
		}
	}
	for l := 0; l <= m; l++ {
		for r := m - 1; r >= 0; r-- {
			src, dst := k.counts[k.node(l, r+1)], k.counts[k.node(l, r)]
			for ctx := range uint32(len(src) / biS) {
				L, R := ctx>>(2*(r+1)), ctx&(uint32(1)<<(2*(r+1))-1)
				d := (L<<(2*r) | R&(uint32(1)<<(2*r)-1)) * biS
				for w := range uint32(biS) {
					dst[d+w] += src[ctx*biS+w]
				}
			}
		}
	}
}

// biContexts fills ps (grown to len(row)) with each position's visible
// runs of at most m bases: anything but A, C, G, T ([MASK], N, PAD) ends a
// run, as do the row's edges.
func biContexts[T vocab.ID](row []T, m int, ps []biPos) []biPos {
	if cap(ps) < len(row) {
		ps = make([]biPos, len(row))
	}
	ps = ps[:len(row)]
	full := uint32(1)<<(2*m) - 1
	run, ctx := 0, uint32(0)
	for i, id := range row {
		ps[i].l, ps[i].L = uint8(run), ctx
		if id >= vocab.A && id <= vocab.T {
			ctx = (ctx<<2 | uint32(id-vocab.A)) & full
			run = min(run+1, m)
		} else {
			run, ctx = 0, 0
		}
	}
	run, ctx = 0, 0
	for i := len(row) - 1; i >= 0; i-- {
		ps[i].r, ps[i].R = uint8(run), ctx
		if id := row[i]; id >= vocab.A && id <= vocab.T {
			ctx = (ctx<<2 | uint32(id-vocab.A)) & full
			run = min(run+1, m)
		} else {
			run, ctx = 0, 0
		}
	}
	return ps
}

// cut is the context of pair n of the runs L, R (at least that long),
// as an index into counts[n] without the symbol.
func (k *BiKmer) cut(n int, L, R uint32) uint32 {
	l, r := n/(k.m+1), n%(k.m+1)
	return (L&(uint32(1)<<(2*l)-1))<<(2*r) | R&(uint32(1)<<(2*r)-1)
}

// probs writes p(w | L, R) for the five symbols, built through the chain
// of pair n from uniform. A context unseen in train stops the chain (its
// extensions are unseen too).
func (k *BiKmer) probs(n int, L, R uint32, p *[biS]float64) {
	for w := range p {
		p[w] = 1.0 / biS
	}
	for _, c := range k.chain[n] {
		off := k.cut(c, L, R) * biS
		row := k.counts[c][off : off+biS]
		var tot float64
		for _, v := range row {
			tot += float64(v)
		}
		if tot == 0 {
			return
		}
		b := k.beta[c]
		for w, v := range row {
			p[w] = (float64(v) + b*p[w]) / (tot + b)
		}
	}
}

// Prob is p(w | left, right) for a symbol w (0..4 = A C G T N) between the
// visible bases left (oldest first) and right (nearest first), each 0..3;
// only the M nearest on each side are used. For tests and inspection.
func (k *BiKmer) Prob(left, right []int, w int) (float64, error) {
	if w < 0 || w >= biS {
		return 0, fmt.Errorf("bidirectional k-mer: symbol %d outside 0..%d", w, biS-1)
	}
	var L, R uint32
	l, r := min(len(left), k.m), min(len(right), k.m)
	for _, s := range left[len(left)-l:] {
		if s < 0 || s > 3 {
			return 0, fmt.Errorf("bidirectional k-mer: context symbol %d outside 0..3", s)
		}
		L = L<<2 | uint32(s)
	}
	for i := r - 1; i >= 0; i-- {
		if s := right[i]; s < 0 || s > 3 {
			return 0, fmt.Errorf("bidirectional k-mer: context symbol %d outside 0..3", s)
		} else {
			R = R<<2 | uint32(s)
		}
	}
	var p [biS]float64
	k.probs(k.node(l, r), L, R, &p)
	return p[w], nil
}

// Logits implements mdlm.Denoiser over the DNA vocabulary (vocab.DNA):
// at a [MASK] in z, log p of A, C, G, T and N given the visible runs
// around it, every other id -Inf; at a visible token, 0 for that token and
// -Inf elsewhere. t is ignored: the counts do not depend on the noise
// level, only through which neighbours are masked.
func (k *BiKmer) Logits(z []int32, B, L int, _ []float32, out []float32) error {
	V := vocab.DNA().Size
	if B < 0 || L < 0 || len(z) != B*L || len(out) != B*L*V {
		return fmt.Errorf("bidirectional k-mer: %d tokens and %d logits for %d x %d positions of %d ids", len(z), len(out), B, L, V)
	}
	ninf := float32(math.Inf(-1))
	var ps []biPos
	var p [biS]float64
	for b := range B {
		row := z[b*L : (b+1)*L]
		ps = biContexts(row, k.m, ps)
		for i, id := range row {
			o := out[(b*L+i)*V : (b*L+i+1)*V]
			for v := range o {
				o[v] = ninf
			}
			switch {
			case id == vocab.Mask:
				q := ps[i]
				k.probs(k.node(int(q.l), int(q.r)), q.L, q.R, &p)
				for w, pw := range p {
					o[vocab.A+w] = float32(math.Log(pw))
				}
			case id >= 0 && int(id) < V:
				o[id] = 0
			default:
				return fmt.Errorf("bidirectional k-mer: token %d at row %d position %d outside the DNA vocabulary", id, b, i)
			}
		}
	}
	return nil
}

// TuneBeta fits beta_(l,r) of every context pair to maximise the
// likelihood of the rows of valid (a validation split, never the scored
// one), greedily from (0, 0) up, parents first: each beta is the best for
// its pair's prediction given its parents' betas, found by golden-section
// search on log beta in [1e-2, 1e5], over every valid position with at
// least l bases before it and r after it. Clean rows suffice: which pair a
// masked position uses depends on the masks, not on the bases, so each
// pair's prediction problem is the same as under the NELBO's masks.
func (k *BiKmer) TuneBeta(valid Split) error {
	type vpos struct {
		biPos
		w uint8
	}
	var vs []vpos
	var ps []biPos
	for i := range valid.Rows() {
		row := valid.Row(i)
		ps = biContexts(row, k.m, ps)
		for j, id := range row {
			if w := symbol(id); w >= 0 {
				vs = append(vs, vpos{ps[j], uint8(w)})
			}
		}
	}
	if len(vs) == 0 {
		return fmt.Errorf("bidirectional k-mer tune: no scored positions in %d validation rows", valid.Rows())
	}
	// Pairs in order of l + r: every parent is tuned before its children.
	var order []int
	for s := 0; s <= 2*k.m; s++ {
		for l := max(0, s-k.m); l <= min(s, k.m); l++ {
			order = append(order, k.node(l, s-l))
		}
	}
	var keys []uint64
	type group struct{ n, cw, ct, prev float64 }
	var gs []group
	var p [biS]float64
	for _, n := range order {
		l, r := n/(k.m+1), n%(k.m+1)
		// Positions with the same context and symbol predict alike: count
		// them once with their multiplicity.
		keys = keys[:0]
		for _, v := range vs {
			if int(v.l) >= l && int(v.r) >= r {
				keys = append(keys, uint64(k.cut(n, v.L, v.R))*biS+uint64(v.w))
			}
		}
		slices.Sort(keys)
		gs = gs[:0]
		for i := 0; i < len(keys); {
			j := i
			for j < len(keys) && keys[j] == keys[i] {
				j++
			}
			ctx, w := uint32(keys[i]/biS), int(keys[i]%biS)
			row := k.counts[n][ctx*biS : ctx*biS+biS]
			var tot float64
			for _, v := range row {
				tot += float64(v)
			}
			if tot > 0 { // an unseen context predicts as its parent whatever beta is
				prev := 1.0 / biS
				if pa := k.parent(l, r); pa >= 0 {
					L, R := ctx>>(2*r), ctx&(uint32(1)<<(2*r)-1)
					k.probs(pa, L, R, &p)
					prev = p[w]
				}
				gs = append(gs, group{float64(j - i), float64(row[w]), tot, prev})
			}
			i = j
		}
		if len(gs) == 0 {
			continue
		}
		ll := func(logBeta float64) float64 {
			b := math.Exp(logBeta)
			var s float64
			for _, g := range gs {
				s += g.n * math.Log((g.cw+b*g.prev)/(g.ct+b))
			}
			return s
		}
		k.beta[n] = math.Exp(goldenMax(ll, math.Log(1e-2), math.Log(1e5), 40))
	}
	return nil
}

// Beta is the concentration of the context pair (l, r).
func (k *BiKmer) Beta(l, r int) float64 { return k.beta[k.node(l, r)] }
