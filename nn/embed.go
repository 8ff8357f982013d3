package nn

import (
	"fmt"
	"slices"
)

// The poolings of Embed: how one sequence's hidden states (T,C) become one
// vector (C).
const (
	PoolMean   = "mean"   // the mean over the positions
	PoolMax    = "max"    // the maximum of each channel over the positions
	PoolCentre = "centre" // the central position (odd T), the mean of the two central ones (even T)
	PoolLast   = "last"   // the last position: the one state of an ar model that has seen the whole sequence
)

// Pools lists the poolings of Embed.
var Pools = []string{PoolMean, PoolMax, PoolCentre, PoolLast}

// EmbedOptions say which hidden states Embed returns.
type EmbedOptions struct {
	// Layer is numbered as HiddenLayer: 0 the token embedding, 1..NLayers-1
	// the residual stream after that block, NLayers the final state after
	// final_ln, what the output head and the fine-tuning heads read.
	// Negative values count from the end: -1 is NLayers. Note that the
	// zero value is the token embedding.
	Layer int
	// Pool is one of Pools, or "" for every position.
	Pool string
	// Batch is the most sequences a forward pass takes (0: 8).
	Batch int
}

// EmbedLayer resolves layer as EmbedOptions.Layer reads it (negative from
// the end) to 0..NLayers, or says which values are allowed.
func (c Config) EmbedLayer(layer int) (int, error) {
	l := layer
	if l < 0 {
		l += c.NLayers + 1
	}
	if l < 0 || l > c.NLayers {
		return 0, fmt.Errorf("layer %d: the model has layers 0 (token embedding) to %d (final, after final_ln), or -1 to -%d from the end", layer, c.NLayers, c.NLayers+1)
	}
	return l, nil
}

// Embed runs m on each sequence of token ids at its own length (at most
// SeqLen), with the model's own attention (causal for ar, so the state at
// a position has seen only the positions up to it), and returns per
// sequence the hidden states of o.Layer: a vector (C) pooled over its
// positions by o.Pool, or with o.Pool "" every position (len*C,
// row-major). Sequences of one length share forward passes of up to
// o.Batch rows, so there is no padding and every position is a token of
// the sequence. The input is clean: nothing is masked, and a
// time-conditioned model runs at t = 0 (Forward), as the fine-tuning
// heads run it.
func (m *Model) Embed(seqs [][]int32, o EmbedOptions) ([][]float32, error) {
	layer, err := m.Cfg.EmbedLayer(o.Layer)
	if err != nil {
		return nil, fmt.Errorf("embed: %w", err)
	}
	if o.Pool != "" && !slices.Contains(Pools, o.Pool) {
		return nil, fmt.Errorf("embed: pool %q: want one of %v, or none", o.Pool, Pools)
	}
	batch := o.Batch
	if batch < 1 {
		batch = 8
	}
	for i, s := range seqs {
		if len(s) == 0 {
			return nil, fmt.Errorf("embed: sequence %d is empty", i)
		}
		if len(s) > m.Cfg.SeqLen {
			return nil, fmt.Errorf("embed: sequence %d: length %d exceeds the model's seq_len %d", i, len(s), m.Cfg.SeqLen)
		}
	}
	// Group by length, keeping the input order within a length.
	order := make([]int, len(seqs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return len(seqs[a]) - len(seqs[b]) })
	C := m.Cfg.DModel
	out := make([][]float32, len(seqs))
	var tokens []int32
	var host []float32
	for lo := 0; lo < len(order); {
		T := len(seqs[order[lo]])
		hi := lo + 1
		for hi < len(order) && hi-lo < batch && len(seqs[order[hi]]) == T {
			hi++
		}
		B := hi - lo
		tokens = tokens[:0]
		for _, i := range order[lo:hi] {
			tokens = append(tokens, seqs[i]...)
		}
		if err := m.Forward(tokens, nil, B, T, m.Cfg.Causal()); err != nil {
			return nil, fmt.Errorf("embed: sequences %v: %w", order[lo:hi], err)
		}
		host = slices.Grow(host[:0], B*T*C)[:B*T*C]
		m.be.Download(host, m.HiddenLayer(layer))
		if err := m.be.Sync(); err != nil {
			return nil, fmt.Errorf("embed: %w", err)
		}
		for b, i := range order[lo:hi] {
			out[i] = poolPositions(host[b*T*C:(b+1)*T*C], T, C, o.Pool)
		}
		lo = hi
	}
	return out, nil
}

// poolPositions pools h (T,C) over its positions as pool says ("": a copy
// of h).
func poolPositions(h []float32, T, C int, pool string) []float32 {
	row := func(t int) []float32 { return h[t*C : (t+1)*C] }
	switch pool {
	case PoolMean:
		sum := make([]float64, C)
		for t := range T {
			for c, v := range row(t) {
				sum[c] += float64(v)
			}
		}
		out := make([]float32, C)
		for c, s := range sum {
			out[c] = float32(s / float64(T))
		}
		return out
	case PoolMax:
		out := slices.Clone(row(0))
		for t := 1; t < T; t++ {
			for c, v := range row(t) {
				out[c] = max(out[c], v)
			}
		}
		return out
	case PoolCentre:
		if T%2 == 1 {
			return slices.Clone(row(T / 2))
		}
		a, b := row(T/2-1), row(T/2)
		out := make([]float32, C)
		for c := range out {
			out[c] = float32((float64(a[c]) + float64(b[c])) / 2)
		}
		return out
	case PoolLast:
		return slices.Clone(row(T - 1))
	}
	return slices.Clone(h)
}
