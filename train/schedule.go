package train

import "math"

// LR is the learning rate at step (0-based): linear warm-up from lr/warmup
// to lr over warmup steps, then a cosine decay to minFrac*lr at horizon;
// past the horizon it stays at minFrac*lr.
func LR(step, warmup, horizon int, lr, minFrac float64) float64 {
	if step < warmup {
		return lr * float64(step+1) / float64(warmup)
	}
	if horizon <= warmup {
		return lr
	}
	p := math.Min(float64(step-warmup)/float64(horizon-warmup), 1)
	return lr * (minFrac + (1-minFrac)*0.5*(1+math.Cos(math.Pi*p)))
}

// WSD is the learning rate at step (0-based) of a warmup-stable-decay
// schedule (Hägele et al. 2024; MiniCPM): the linear warm-up of LR, then
// constant at lr; with decaySteps > 0, steps decayStart ..
// decayStart+decaySteps-1 fall linearly from the rate step decayStart had
// to exactly minFrac*lr, which holds after them.
func WSD(step, warmup, decayStart, decaySteps int, lr, minFrac float64) float64 {
	stable := func(s int) float64 {
		if s < warmup {
			return lr * float64(s+1) / float64(warmup)
		}
		return lr
	}
	if decaySteps <= 0 || step < decayStart {
		return stable(step)
	}
	last := decayStart + decaySteps - 1
	if step >= last {
		return minFrac * lr
	}
	from := stable(decayStart)
	return from + (minFrac*lr-from)*float64(step-decayStart)/float64(decaySteps-1)
}
