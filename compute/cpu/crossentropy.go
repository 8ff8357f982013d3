package cpu

import (
	"math"

	"github.com/seqdiff/seqdiff/compute"
)

// CrossEntropy, fused softmax + negative log-likelihood over logits (N,V):
// losses (N) = weight[n] * -log softmax(logits[n])[target[n]], 0 where
// target == ignore or weight == 0; banned >= 0 is a class whose logit counts
// as -Inf (-1: none); weights (N) optional (all 1); losses may be absent.
// With backward, logits (N,V) is OVERWRITTEN by
// dlogits = gradScale * weight * (softmax - onehot), 0 on ignored rows.
// A target outside [0,V) (other than ignore) gives a NaN loss and NaN
// gradients, so the fault shows in the loss rather than crashing a worker.
// The log-sum-exp is accumulated in float64 (V is small: 12 for DNA).
func (b *Backend) CrossEntropy(losses, logits compute.F32, targets compute.I32, weights compute.F32, N, V, ignore, banned int, backward bool, gradScale float32) {
	if V >= wideVocab {
		b.crossEntropyWide(losses, logits, targets, weights, N, V, ignore, banned, backward, gradScale)
		return
	}
	lg, tg := logits.Host, targets.Host
	b.parallelRange(N, 256, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			row := lg[n*V : (n+1)*V]
			tgt := int(tg[n])
			w := float32(1)
			if weights.N > 0 {
				w = weights.Host[n]
			}
			if tgt == ignore || w == 0 {
				if losses.N > 0 {
					losses.Host[n] = 0
				}
				if backward {
					clear(row)
				}
				continue
			}
			mx := math.Inf(-1)
			for v, x := range row {
				if v != banned && float64(x) > mx {
					mx = float64(x)
				}
			}
			var sum float64
			for v, x := range row {
				if v != banned {
					sum += math.Exp(float64(x) - mx)
				}
			}
			lse := mx + math.Log(sum)
			var loss float64
			switch {
			case tgt < 0 || tgt >= V:
				loss = math.NaN()
			case tgt == banned:
				loss = math.Inf(1)
			default:
				loss = lse - float64(row[tgt])
			}
			if losses.N > 0 {
				losses.Host[n] = w * float32(loss)
			}
			if backward {
				gs := float64(gradScale) * float64(w)
				bad := tgt < 0 || tgt >= V
				for v, x := range row {
					var p float64
					if v != banned {
						p = math.Exp(float64(x) - lse)
					}
					if v == tgt {
						p--
					}
					if bad {
						p = math.NaN()
					}
					row[v] = float32(gs * p)
				}
			}
		}
	})
}

// wideVocab is the vocabulary size from which CrossEntropy takes the
// vectorised float32 path: at text vocabularies (30,522 or 50,259) the
// float64 math.Exp per logit made the loss cost more than the head's matmul.
const wideVocab = 256

// crossEntropyWide is CrossEntropy for wide rows: max, exp and sum in
// float32 vectors (the accumulator has 16 lanes, so a row of 50k terms sums
// in short partial sums), the gradient written in place by one scale.
// Without backward the row is exponentiated in a per-worker scratch row so
// that the logits stay as they were.
func (b *Backend) crossEntropyWide(losses, logits compute.F32, targets compute.I32, weights compute.F32, N, V, ignore, banned int, backward bool, gradScale float32) {
	lg, tg := logits.Host, targets.Host
	b.parallelRange(N, 16, func(lo, hi int) {
		var scratch []float32
		for n := lo; n < hi; n++ {
			row := lg[n*V : (n+1)*V]
			tgt := int(tg[n])
			w := float32(1)
			if weights.N > 0 {
				w = weights.Host[n]
			}
			if tgt == ignore || w == 0 {
				if losses.N > 0 {
					losses.Host[n] = 0
				}
				if backward {
					clear(row)
				}
				continue
			}
			bad := tgt < 0 || tgt >= V
			var xt float32
			if !bad {
				xt = row[tgt]
			}
			buf := row
			if !backward {
				if scratch == nil {
					scratch = make([]float32, V)
				}
				copy(scratch, row)
				buf = scratch
			}
			if banned >= 0 {
				buf[banned] = float32(math.Inf(-1))
			}
			mx := maxf(buf)
			sum := expSubSum(buf, mx) // buf[v] = exp(x_v - mx); banned: 0
			lse := float64(mx) + math.Log(float64(sum))
			var loss float64
			switch {
			case bad:
				loss = math.NaN()
			case tgt == banned:
				loss = math.Inf(1)
			default:
				loss = lse - float64(xt)
			}
			if losses.N > 0 {
				losses.Host[n] = w * float32(loss)
			}
			if backward {
				gs := gradScale * w
				if bad {
					for v := range row {
						row[v] = float32(math.NaN())
					}
					continue
				}
				scal(row, gs/sum)
				row[tgt] -= gs
			}
		}
	})
}

// Softmax: probs (N,V) = softmax(logits (N,V) / temperature) with banned's
// probability 0 (banned -1: none). temperature <= 0 means greedy: a
// one-hot on the largest allowed logit (the first on ties).
func (b *Backend) Softmax(probs, logits compute.F32, N, V, banned int, temperature float32) {
	pr, lg := probs.Host, logits.Host
	b.parallelRange(N, 256, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			row := lg[n*V : (n+1)*V]
			dst := pr[n*V : (n+1)*V]
			mx, arg := math.Inf(-1), -1
			for v, x := range row {
				if v != banned && (arg < 0 || float64(x) > mx) {
					mx, arg = float64(x), v
				}
			}
			if temperature <= 0 {
				clear(dst)
				if arg >= 0 {
					dst[arg] = 1
				}
				continue
			}
			if V >= wideVocab {
				// float32 vectors, as crossEntropyWide (a text vocabulary).
				copy(dst, row)
				if temperature != 1 {
					scal(dst, 1/temperature)
				}
				if banned >= 0 {
					dst[banned] = float32(math.Inf(-1))
				}
				sum := expSubSum(dst, float32(mx/float64(temperature)))
				scal(dst, 1/sum)
				continue
			}
			inv := 1 / float64(temperature)
			var sum float64
			for v, x := range row {
				if v == banned {
					continue
				}
				sum += math.Exp((float64(x) - mx) * inv)
			}
			for v, x := range row {
				if v == banned {
					dst[v] = 0
					continue
				}
				dst[v] = float32(math.Exp((float64(x)-mx)*inv) / sum)
			}
		}
	})
}
