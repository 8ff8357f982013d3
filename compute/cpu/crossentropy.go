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
