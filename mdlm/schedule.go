package mdlm

import (
	"fmt"
	"math"
)

// Schedule is a masking noise schedule: alpha(t) is the probability that a
// token is still clean at time t in [0, 1] (alpha(0) = 1, alpha(1) close to
// 0), decreasing in t. A token masked by time t stays masked.
type Schedule interface {
	Name() string
	// Alpha is the probability a token is unmasked at time t.
	Alpha(t float64) float64
	// DAlpha is alpha'(t) (not positive).
	DAlpha(t float64) float64
	// Weight is the NELBO weight w(t) = -alpha'(t) / (1 - alpha(t)) of the
	// cross-entropy at masked positions, written per schedule for accuracy
	// near t = 0.
	Weight(t float64) float64
}

// RevealProb is the probability that a position still masked at time t is
// unmasked at the earlier time s < t: (alpha(s) - alpha(t)) / (1 - alpha(t)).
// It is 1 when s <= 0, so the last sampling step reveals everything.
func RevealProb(sch Schedule, t, s float64) float64 {
	if s <= 0 {
		return 1
	}
	at, as := sch.Alpha(t), sch.Alpha(s)
	if at >= 1 {
		return 1
	}
	p := (as - at) / (1 - at)
	return math.Min(math.Max(p, 0), 1)
}

// LogLinear is MDLM's default schedule: alpha(t) = 1 - (1 - Eps) t, so
// w(t) = 1/t exactly.
type LogLinear struct{ Eps float64 }

func (LogLinear) Name() string               { return "loglinear" }
func (s LogLinear) Alpha(t float64) float64  { return 1 - (1-s.Eps)*t }
func (s LogLinear) DAlpha(float64) float64   { return -(1 - s.Eps) }
func (s LogLinear) Weight(t float64) float64 { return 1 / t }

// Linear has a total noise sigma(t) = SigmaMin + t (SigmaMax - SigmaMin) and
// alpha(t) = exp(-sigma(t)) (MDLM's noise_schedule.Linear).
type Linear struct{ SigmaMin, SigmaMax float64 }

func (Linear) Name() string { return "linear" }
func (s Linear) sigma(t float64) float64 {
	return s.SigmaMin + t*(s.SigmaMax-s.SigmaMin)
}
func (s Linear) Alpha(t float64) float64  { return math.Exp(-s.sigma(t)) }
func (s Linear) DAlpha(t float64) float64 { return -(s.SigmaMax - s.SigmaMin) * s.Alpha(t) }

// Weight is sigma'(t) / expm1(sigma(t)).
func (s Linear) Weight(t float64) float64 {
	return (s.SigmaMax - s.SigmaMin) / math.Expm1(s.sigma(t))
}

// Cosine is alpha(t) = Eps + (1 - Eps) cos(pi t / 2) (MDLM's CosineNoise).
type Cosine struct{ Eps float64 }

func (Cosine) Name() string { return "cosine" }
func (s Cosine) Alpha(t float64) float64 {
	return s.Eps + (1-s.Eps)*math.Cos(math.Pi*t/2)
}
func (s Cosine) DAlpha(t float64) float64 {
	return -(1 - s.Eps) * math.Pi / 2 * math.Sin(math.Pi*t/2)
}

// Weight uses 1 - cos x = 2 sin^2(x/2) to stay accurate near t = 0.
func (s Cosine) Weight(t float64) float64 {
	h := math.Sin(math.Pi * t / 4)
	oneMinus := (1 - s.Eps) * 2 * h * h
	return -s.DAlpha(t) / oneMinus
}

// Geometric has sigma(t) = SigmaMin^(1-t) SigmaMax^t and
// alpha(t) = exp(-sigma(t)) (MDLM's GeometricNoise; the defaults follow
// SEDD's absorbing runs, 1e-4 and 20, so alpha(1) is about 2e-9 and the
// all-[MASK] start of sampling is the right prior).
type Geometric struct{ SigmaMin, SigmaMax float64 }

func (Geometric) Name() string { return "geometric" }
func (s Geometric) sigma(t float64) float64 {
	return math.Pow(s.SigmaMin, 1-t) * math.Pow(s.SigmaMax, t)
}
func (s Geometric) Alpha(t float64) float64 { return math.Exp(-s.sigma(t)) }
func (s Geometric) DAlpha(t float64) float64 {
	sg := s.sigma(t)
	return -sg * math.Log(s.SigmaMax/s.SigmaMin) * math.Exp(-sg)
}

// Weight is sigma'(t) / expm1(sigma(t)).
func (s Geometric) Weight(t float64) float64 {
	sg := s.sigma(t)
	return sg * math.Log(s.SigmaMax/s.SigmaMin) / math.Expm1(sg)
}

// DefaultEps is MDLM's eps: the floor of t and of the log-linear alpha(1).
const DefaultEps = 1e-3

// NewSchedule returns a schedule by name with MDLM's defaults:
// "loglinear" (the default, eps 1e-3), "linear" (sigma 0 to 10),
// "cosine" (eps 1e-3) and "geometric" (sigma 1e-4 to 20).
func NewSchedule(name string) (Schedule, error) {
	switch name {
	case "", "loglinear", "log-linear":
		return LogLinear{Eps: DefaultEps}, nil
	case "linear":
		return Linear{SigmaMin: 0, SigmaMax: 10}, nil
	case "cosine":
		return Cosine{Eps: DefaultEps}, nil
	case "geometric":
		return Geometric{SigmaMin: 1e-4, SigmaMax: 20}, nil
	}
	return nil, fmt.Errorf("noise schedule %q: want loglinear, linear, cosine or geometric", name)
}
