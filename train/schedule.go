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
