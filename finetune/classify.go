package finetune

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/seqdiff/seqdiff/compute"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/vocab"
)

// Classifier is a backbone with a mean-pool and a linear head:
//
//	h      = final_ln hidden states of the backbone (B,T,C), own attention
//	pooled = mean over valid positions of h        (B,C)
//	logits = pooled . W^T + b                       (B,K)
//
// The head lives in host memory (K x C is tiny) with its own AdamW state;
// the backbone keeps its parameters, gradients and nn.Optimizer on the
// backend. Padding is masked out of the attention keys and of the pool.
type Classifier struct {
	M      *nn.Model
	K, C   int // classes, width
	T      int // positions per row
	Causal bool

	W, Bias   []float32 // (K,C), (K)
	gW, gB    []float32
	mW, vW    []float32
	mB, vB    []float32
	headStep  int
	be        compute.Backend
	rows      int // batch rows the buffers hold
	pooled    compute.F32
	dpooled   compute.F32
	dhidden   compute.F32
	mask      compute.I32
	hostPool  []float32
	hostLogit []float32
}

// NewClassifier puts a K-class head on m for rows of T positions; the head
// is drawn from normal(0, 0.02) with seed. causal selects the backbone's
// attention (true for AR checkpoints).
func NewClassifier(m *nn.Model, K, T int, causal bool, seed uint64) *Classifier {
	c := &Classifier{M: m, K: K, C: m.Cfg.DModel, T: T, Causal: causal, be: m.Backend()}
	n := K * c.C
	c.W, c.gW, c.mW, c.vW = make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	c.Bias, c.gB, c.mB, c.vB = make([]float32, K), make([]float32, K), make([]float32, K), make([]float32, K)
	r := rand.New(rand.NewPCG(seed, 0x68656164))
	for i := range c.W {
		c.W[i] = float32(0.02 * r.NormFloat64())
	}
	return c
}

// Free releases the classifier's backend buffers (not the model).
func (c *Classifier) Free() {
	if c.rows > 0 {
		c.be.Free(c.pooled)
		c.be.Free(c.dpooled)
		c.be.Free(c.dhidden)
		c.be.FreeI32(c.mask)
		c.rows = 0
	}
}

func (c *Classifier) ensure(B int) {
	if c.rows == B {
		return
	}
	c.Free()
	c.rows = B
	c.pooled, c.dpooled = c.be.Alloc(B*c.C), c.be.Alloc(B*c.C)
	c.dhidden = c.be.Alloc(B * c.T * c.C)
	c.mask = c.be.AllocI32(B * c.T)
	c.hostPool, c.hostLogit = make([]float32, B*c.C), make([]float32, B*c.K)
}

// Forward runs tokens (B,T) with keyMask (B,T; 1 valid, 0 padding) through
// the backbone, the pool and the head, and returns the logits (B,K) (host
// memory, reused by the next call).
func (c *Classifier) Forward(tokens, keyMask []int32, B int) ([]float32, error) {
	c.ensure(B)
	if err := c.M.Forward(tokens, keyMask, B, c.T, c.Causal); err != nil {
		return nil, err
	}
	c.be.UploadI32(c.mask, keyMask)
	c.be.MeanPoolForward(c.pooled, c.M.Hidden(), c.mask, B, c.T, c.C)
	c.be.Download(c.hostPool, c.pooled)
	for b := range B {
		p := c.hostPool[b*c.C : (b+1)*c.C]
		for k := range c.K {
			w := c.W[k*c.C : (k+1)*c.C]
			s := float64(c.Bias[k])
			for i, v := range p {
				s += float64(v) * float64(w[i])
			}
			c.hostLogit[b*c.K+k] = float32(s)
		}
	}
	return c.hostLogit[:B*c.K], nil
}

// Loss is the mean softmax cross-entropy of the last Forward's logits
// against labels; with backward it zeroes and fills the head's gradients
// and the backbone's (through the pool and BackwardHidden).
func (c *Classifier) Loss(labels []int, backward bool) (float64, error) {
	B := len(labels)
	dlog := make([]float32, B*c.K)
	loss := 0.0
	for b, y := range labels {
		if y < 0 || y >= c.K {
			return 0, fmt.Errorf("classifier: label %d outside 0..%d", y, c.K-1)
		}
		z := c.hostLogit[b*c.K : (b+1)*c.K]
		mx := z[0]
		for _, v := range z {
			mx = max(mx, v)
		}
		s := 0.0
		for _, v := range z {
			s += math.Exp(float64(v - mx))
		}
		lse := float64(mx) + math.Log(s)
		loss += lse - float64(z[y])
		for k, v := range z {
			p := math.Exp(float64(v) - lse)
			if k == y {
				p--
			}
			dlog[b*c.K+k] = float32(p / float64(B))
		}
	}
	loss /= float64(B)
	if !backward {
		return loss, nil
	}
	c.ensure(B)
	clear(c.gW)
	clear(c.gB)
	dp := make([]float32, B*c.C)
	for b := range B {
		p := c.hostPool[b*c.C : (b+1)*c.C]
		d := dp[b*c.C : (b+1)*c.C]
		for k := range c.K {
			g := dlog[b*c.K+k]
			c.gB[k] += g
			w := c.W[k*c.C : (k+1)*c.C]
			gw := c.gW[k*c.C : (k+1)*c.C]
			for i := range c.C {
				gw[i] += g * p[i]
				d[i] += g * w[i]
			}
		}
	}
	c.be.Upload(c.dpooled, dp)
	c.be.Zero(c.dhidden)
	c.be.MeanPoolBackward(c.dhidden, c.dpooled, c.mask, B, c.T, c.C)
	c.M.ZeroGrad()
	return loss, c.M.BackwardHidden(c.dhidden)
}

// StepHead applies one AdamW step (betas 0.9, 0.999, eps 1e-8, decoupled
// weight decay wd on W only) to the head.
func (c *Classifier) StepHead(lr, wd float32) {
	c.headStep++
	t := float64(c.headStep)
	bc1, bc2 := 1-math.Pow(0.9, t), 1-math.Pow(0.999, t)
	upd := func(p, g, m, v []float32, decay float32) {
		for i := range p {
			m[i] = 0.9*m[i] + 0.1*g[i]
			v[i] = 0.999*v[i] + 0.001*g[i]*g[i]
			mh := float64(m[i]) / bc1
			vh := float64(v[i]) / bc2
			p[i] -= lr * (float32(mh/(math.Sqrt(vh)+1e-8)) + decay*p[i])
		}
	}
	upd(c.W, c.gW, c.mW, c.vW, wd)
	upd(c.Bias, c.gB, c.mB, c.vB, 0)
}

// Predict returns the arg-max class of each row of the last Forward.
func (c *Classifier) Predict(B int) []int {
	out := make([]int, B)
	for b := range B {
		z := c.hostLogit[b*c.K : (b+1)*c.K]
		best := 0
		for k, v := range z {
			if v > z[best] {
				best = k
			}
		}
		out[b] = best
	}
	return out
}

// Pack writes examples into tokens and keyMask (len(ex) rows of T):
// a sequence longer than T keeps its centre T positions (start
// (len-T)/2, rounding down); a shorter one is followed by [PAD] with mask 0.
// With rc set for a row, that row is reverse-complemented first.
func Pack(ex []Example, T, padID int, rc []bool, tokens, keyMask []int32) {
	for b, e := range ex {
		row, m := tokens[b*T:(b+1)*T], keyMask[b*T:(b+1)*T]
		s := e.Seq
		if len(s) > T {
			off := (len(s) - T) / 2
			s = s[off : off+T]
		}
		n := len(s)
		flip := rc != nil && rc[b]
		for i := range T {
			if i >= n {
				row[i], m[i] = int32(padID), 0
				continue
			}
			id := s[i]
			if flip {
				id = vocab.Complement(s[n-1-i])
			}
			row[i], m[i] = int32(id), 1
		}
	}
}
