package finetune

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"sort"
)

// splitHash is the FNV-1a 64 hash of (seed, index) as little-endian uint64s.
func splitHash(seed uint64, i int) uint64 {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], seed)
	binary.LittleEndian.PutUint64(b[8:], uint64(i))
	h := fnv.New64a()
	h.Write(b[:])
	return h.Sum64()
}

// SplitIndex is the fixed, documented split rule: within each class, rows
// are ordered by the FNV-1a hash of (seed, row index) and the first
// round(frac * class size) of them are held out (true). Every class with at
// least two rows keeps at least one row on each side. The rule depends only
// on the labels, the row order, frac and seed, so it is the same on every
// machine and in every language that can compute FNV-1a.
func SplitIndex[L comparable](labels []L, frac float64, seed uint64) []bool {
	byClass := map[L][]int{}
	var order []L
	for i, l := range labels {
		if _, ok := byClass[l]; !ok {
			order = append(order, l)
		}
		byClass[l] = append(byClass[l], i)
	}
	out := make([]bool, len(labels))
	for _, l := range order {
		rows := byClass[l]
		sort.SliceStable(rows, func(a, b int) bool { return splitHash(seed, rows[a]) < splitHash(seed, rows[b]) })
		k := int(math.Round(frac * float64(len(rows))))
		if len(rows) >= 2 {
			k = min(max(k, 1), len(rows)-1)
		}
		for _, i := range rows[:k] {
			out[i] = true
		}
	}
	return out
}

// Subsample returns at most n of ex (all when n <= 0 or n >= len(ex)): the
// rows SplitIndex holds out with fraction n/len(ex) and seed, so the sample
// is stratified by label and fixed by the seed, in their original order.
func Subsample(ex []Example, n int, seed uint64) []Example {
	if n <= 0 || n >= len(ex) {
		return ex
	}
	labels := make([]int, len(ex))
	for i, e := range ex {
		labels[i] = e.Label
	}
	var out []Example
	for i, keep := range SplitIndex(labels, float64(n)/float64(len(ex)), seed^0x737562) {
		if keep {
			out = append(out, ex[i])
		}
	}
	return out
}

// TrainValid is one seed's training rows: a stratified sample of at most
// maxTrain rows of train (all when maxTrain <= 0), split by SplitIndex into
// train and valid (validFrac of each class). Networks and the k-mer
// baseline call it alike, so they see the same rows for a seed.
func TrainValid(train []Example, maxTrain int, validFrac float64, seed uint64) (tr, va []Example) {
	rows := Subsample(train, maxTrain, seed)
	labels := make([]int, len(rows))
	for i, e := range rows {
		labels[i] = e.Label
	}
	isValid := SplitIndex(labels, validFrac, seed)
	for i, e := range rows {
		if isValid[i] {
			va = append(va, e)
		} else {
			tr = append(tr, e)
		}
	}
	return tr, va
}
