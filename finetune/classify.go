package finetune

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"github.com/seqdiff/seqdiff/compute"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/vocab"
)

// The heads a Classifier puts on the backbone. The backbone carries only
// relative (rotary) positions, so a pooled head cannot tell where in the
// row something occurs; HeadFlat can, on aligned fixed-length tasks.
const (
	HeadMean   = "mean"   // mean of the hidden states over valid positions
	HeadCentre = "centre" // mean over the central quarter of the valid positions (at least 8)
	HeadFlat   = "flat"   // a weight per position and channel: a linear map of the whole (T,C) state
	// HeadConv averages GELU(c + sum_j h[t+j] U_j), j = -1, 0, 1, over the
	// valid positions: ConvFeatures averaged nonlinear features of each
	// position and its neighbours instead of C averaged channels, as a
	// k-mer spectrum averages 4^k indicators. A backbone whose hidden states
	// hold each base but little of its neighbours (a small or briefly
	// trained one) still yields dinucleotide statistics through it.
	HeadConv = "conv"
)

// ConvFeatures is HeadConv's width.
const ConvFeatures = 128

// convSpan is HeadConv's window: the position and one neighbour each side.
const convSpan = 3

// Heads lists the heads.
var Heads = []string{HeadMean, HeadCentre, HeadFlat, HeadConv}

// Classifier is a backbone with a linear head on its final hidden states:
//
//	h      = final_ln hidden states of the backbone (B,T,C), own attention
//	x      = pool(f(h))                              (B,P,F)
//	logits = sum_{p,f} x[b,p,f] W[k,p,f] + bias[k]  (B,K)
//
// where f is the identity (F = C) but for HeadConv (f(h)[t] = GELU(c +
// sum_j h[t+j] U_j), F = ConvFeatures), and pool is a weighted mean over
// positions for the pooled heads (P = 1: HeadMean, HeadCentre, HeadConv)
// and the identity on valid positions for HeadFlat (P = T). The head lives in host memory with its own AdamW state; the
// backbone keeps its parameters, gradients and nn.Optimizer on the backend.
// Padding is masked out of the attention keys and of the head.
type Classifier struct {
	M       *nn.Model
	Head    string
	K, C, T int // classes, width, positions per row
	P       int // positions the head keeps: 1, or T for HeadFlat
	F       int // features per position: C, or ConvFeatures for HeadConv
	Causal  bool

	W, Bias  []float32 // (K,P,F), (K)
	U, Ub    []float32 // HeadConv: (convSpan*C, F), (F)
	gW, gB   []float32
	mW, vW   []float32
	mB, vB   []float32
	gU, gUb  []float32
	mU, vU   []float32
	mUb, vUb []float32
	cols     []float32 // HeadConv: the windows of the last Forward (B*T, convSpan*C), zero outside the valid positions
	pre      []float32 // HeadConv: cols U + c (B*T, F)
	dpre     []float32
	dcols    []float32
	headStep int
	be       compute.Backend
	rows     int // batch rows the buffers hold
	dhidden  compute.F32
	hidden   []float32 // (B,T,C) host copy of the last Forward's states
	pool     []float32 // (B,P,T): the weight of position t in slot p (HeadFlat: the key mask on the diagonal, stored as (B,T))
	x        []float32 // (B,P,C)
	logits   []float32 // (B,K)
	dx, dh   []float32
}

// NewClassifier puts a K-class head of the given kind on m for rows of T
// positions; W is drawn from normal(0, 0.02/sqrt(P)) with seed, so every
// head starts with logits of the same scale. causal selects the backbone's
// attention (true for AR checkpoints).
func NewClassifier(m *nn.Model, head string, K, T int, causal bool, seed uint64) (*Classifier, error) {
	if !slices.Contains(Heads, head) {
		return nil, fmt.Errorf("classifier: head %q: want one of %v", head, Heads)
	}
	c := &Classifier{M: m, Head: head, K: K, C: m.Cfg.DModel, T: T, P: 1, F: m.Cfg.DModel, Causal: causal, be: m.Backend()}
	switch head {
	case HeadFlat:
		c.P = T
	case HeadConv:
		c.F = ConvFeatures
	}
	n := K * c.P * c.F
	c.W, c.gW, c.mW, c.vW = make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	c.Bias, c.gB, c.mB, c.vB = make([]float32, K), make([]float32, K), make([]float32, K), make([]float32, K)
	r := rand.New(rand.NewPCG(seed, 0x68656164))
	std := 0.02 / math.Sqrt(float64(c.P))
	for i := range c.W {
		c.W[i] = float32(std * r.NormFloat64())
	}
	if head == HeadConv {
		// h is layer-normed (unit scale per channel): 1/sqrt(fan-in) keeps
		// the pre-activations at unit scale, in GELU's bend.
		n := convSpan * c.C * c.F
		c.U, c.gU, c.mU, c.vU = make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		c.Ub, c.gUb, c.mUb, c.vUb = make([]float32, c.F), make([]float32, c.F), make([]float32, c.F), make([]float32, c.F)
		for i := range c.U {
			c.U[i] = float32(r.NormFloat64() / math.Sqrt(float64(convSpan*c.C)))
		}
	}
	return c, nil
}

// Free releases the classifier's backend buffers (not the model).
func (c *Classifier) Free() {
	if c.rows > 0 {
		c.be.Free(c.dhidden)
		c.rows = 0
	}
}

func (c *Classifier) ensure(B int) {
	if c.rows == B {
		return
	}
	c.Free()
	c.rows = B
	c.dhidden = c.be.Alloc(B * c.T * c.C)
	c.hidden, c.dh = make([]float32, B*c.T*c.C), make([]float32, B*c.T*c.C)
	c.x, c.dx = make([]float32, B*c.P*c.F), make([]float32, B*c.P*c.F)
	if c.Head == HeadConv {
		c.cols, c.dcols = make([]float32, B*c.T*convSpan*c.C), make([]float32, B*c.T*convSpan*c.C)
		c.pre, c.dpre = make([]float32, B*c.T*c.F), make([]float32, B*c.T*c.F)
	}
	c.pool = make([]float32, B*c.T)
	c.logits = make([]float32, B*c.K)
}

// slot is the head's slot of position t: t for HeadFlat, else 0.
func (c *Classifier) slot(t int) int {
	if c.P > 1 {
		return t
	}
	return 0
}

// poolWeights writes row b's position weights (T) from its key mask: the
// pooled heads average over their window of valid positions, HeadFlat
// keeps each valid position once.
func (c *Classifier) poolWeights(keyMask []int32, w []float32) {
	clear(w)
	n := 0
	for _, v := range keyMask {
		if v != 0 {
			n++
		}
	}
	if n == 0 {
		return
	}
	lo, hi := 0, n // Pack puts the valid positions first
	switch c.Head {
	case HeadFlat:
		for t := range n {
			w[t] = 1
		}
		return
	case HeadCentre:
		win := min(n, max(8, n/4))
		lo = (n - win) / 2
		hi = lo + win
	}
	for t := lo; t < hi; t++ {
		w[t] = 1 / float32(hi-lo)
	}
}

// Forward runs tokens (B,T) with keyMask (B,T; 1 valid, 0 padding) through
// the backbone and the head, and returns the logits (B,K) (host memory,
// reused by the next call).
func (c *Classifier) Forward(tokens, keyMask []int32, B int) ([]float32, error) {
	c.ensure(B)
	if err := c.M.Forward(tokens, keyMask, B, c.T, c.Causal); err != nil {
		return nil, err
	}
	c.be.Download(c.hidden, c.M.Hidden())
	T, C, P, F := c.T, c.C, c.P, c.F
	for b := range B {
		c.poolWeights(keyMask[b*T:(b+1)*T], c.pool[b*T:(b+1)*T])
	}
	feat, FW := c.hidden, C // what the pool reads: (B*T, F)
	if c.Head == HeadConv {
		c.convForward(B)
		feat, FW = c.pre, F
	}
	clear(c.x)
	for b := range B {
		for t, a := range c.pool[b*T : (b+1)*T] {
			if a == 0 {
				continue
			}
			p := c.slot(t)
			x := c.x[(b*P+p)*F : (b*P+p+1)*F]
			for i, v := range feat[(b*T+t)*FW : (b*T+t+1)*FW] {
				if c.Head == HeadConv {
					v = gelu(v)
				}
				x[i] += a * v
			}
		}
		x := c.x[b*P*F : (b+1)*P*F]
		for k := range c.K {
			s := float64(c.Bias[k])
			for i, v := range c.W[k*P*F : (k+1)*P*F] {
				s += float64(v) * float64(x[i])
			}
			c.logits[b*c.K+k] = float32(s)
		}
	}
	return c.logits[:B*c.K], nil
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
		z := c.logits[b*c.K : (b+1)*c.K]
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
	T, C, P, F := c.T, c.C, c.P, c.F
	clear(c.gW)
	clear(c.gB)
	clear(c.dx)
	clear(c.gU)
	clear(c.gUb)
	for b := range B {
		x := c.x[b*P*F : (b+1)*P*F]
		dx := c.dx[b*P*F : (b+1)*P*F]
		for k := range c.K {
			g := dlog[b*c.K+k]
			c.gB[k] += g
			w := c.W[k*P*F : (k+1)*P*F]
			gw := c.gW[k*P*F : (k+1)*P*F]
			for i := range x {
				gw[i] += g * x[i]
				dx[i] += g * w[i]
			}
		}
	}
	// dh[b,t] = pool weight of t * dx[b, slot of t], through f for HeadConv
	clear(c.dh)
	if c.Head == HeadConv {
		for b := range B {
			dx := c.dx[b*F : (b+1)*F]
			for t, a := range c.pool[b*T : (b+1)*T] {
				pre, dpre := c.pre[(b*T+t)*F:(b*T+t+1)*F], c.dpre[(b*T+t)*F:(b*T+t+1)*F]
				for j, v := range dx {
					dpre[j] = a * v * geluGrad(pre[j]) // 0 where a = 0
					c.gUb[j] += dpre[j]
				}
			}
		}
		c.convBackward(B)
	} else {
		for b := range B {
			for t, a := range c.pool[b*T : (b+1)*T] {
				if a == 0 {
					continue
				}
				p := c.slot(t)
				dx := c.dx[(b*P+p)*F : (b*P+p+1)*F]
				dh := c.dh[(b*T+t)*C : (b*T+t+1)*C]
				for i, v := range dx {
					dh[i] = a * v
				}
			}
		}
	}
	c.be.Upload(c.dhidden, c.dh[:B*T*C])
	c.M.ZeroGrad()
	return loss, c.M.BackwardHidden(c.dhidden)
}

// StepHead applies one AdamW step (betas 0.9, 0.999, eps 1e-8, decoupled
// weight decay wd on W only) to the head. HeadFlat's P positions share
// one step: each of its weights moves by lr/P, or its logits would move P
// times as fast as a pooled head's.
func (c *Classifier) StepHead(lr, wd float32) {
	c.headStep++
	t := float64(c.headStep)
	bc1, bc2 := 1-math.Pow(0.9, t), 1-math.Pow(0.999, t)
	upd := func(p, g, m, v []float32, lr, decay float32) {
		for i := range p {
			m[i] = 0.9*m[i] + 0.1*g[i]
			v[i] = 0.999*v[i] + 0.001*g[i]*g[i]
			mh := float64(m[i]) / bc1
			vh := float64(v[i]) / bc2
			p[i] -= lr * (float32(mh/(math.Sqrt(vh)+1e-8)) + decay*p[i])
		}
	}
	upd(c.W, c.gW, c.mW, c.vW, lr/float32(c.P), wd)
	upd(c.Bias, c.gB, c.mB, c.vB, lr, 0)
	if c.Head == HeadConv {
		upd(c.U, c.gU, c.mU, c.vU, lr, wd)
		upd(c.Ub, c.gUb, c.mUb, c.vUb, lr, 0)
	}
}

// headParams is a copy of the head's weights (W, Bias, U, Ub).
func (c *Classifier) headParams() []float32 {
	return slices.Concat(c.W, c.Bias, c.U, c.Ub)
}

// setHeadParams restores weights from headParams.
func (c *Classifier) setHeadParams(p []float32) {
	for _, dst := range [][]float32{c.W, c.Bias, c.U, c.Ub} {
		p = p[copy(dst, p):]
	}
}

// Predict returns the arg-max class of each row of the last Forward.
func (c *Classifier) Predict(B int) []int {
	out := make([]int, B)
	for b := range B {
		z := c.logits[b*c.K : (b+1)*c.K]
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
		s := centreCrop(e.Seq, T)
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

// convForward fills cols with each valid position's window of hidden
// states (positions outside the row's valid run read as 0) and pre with
// cols U + c:
//
//	cols (B*T, span*C) . U (span*C, F) + c (F) -> pre (B*T, F)
func (c *Classifier) convForward(B int) {
	T, C, F, S := c.T, c.C, c.F, convSpan*c.C
	clear(c.cols[:B*T*S])
	c.eachWindow(B, c.cols, func(slot []float32, src int) { copy(slot, c.hidden[src*C:(src+1)*C]) })
	N := B * T
	for i := range N {
		copy(c.pre[i*F:(i+1)*F], c.Ub)
	}
	blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, mat(c.cols, N, S), mat(c.U, S, F), 1, mat(c.pre, N, F))
}

// convBackward takes dpre (B*T, F) to the gradient of U and adds each
// window's share to dh:
//
//	gU = cols^T dpre;  dcols = dpre U^T;  dh[t+j] += dcols[t, j]
func (c *Classifier) convBackward(B int) {
	T, C, F, S := c.T, c.C, c.F, convSpan*c.C
	N := B * T
	blas32.Gemm(blas.Trans, blas.NoTrans, 1, mat(c.cols, N, S), mat(c.dpre, N, F), 0, mat(c.gU, S, F))
	blas32.Gemm(blas.NoTrans, blas.Trans, 1, mat(c.dpre, N, F), mat(c.U, S, F), 0, mat(c.dcols, N, S))
	c.eachWindow(B, c.dcols, func(slot []float32, src int) {
		dh := c.dh[src*C : (src+1)*C]
		for i, v := range slot {
			dh[i] += v
		}
	})
}

// eachWindow calls f for every valid position t of each row and every
// valid neighbour u = t-1, t, t+1 with u's slot (C) in t's window of buf
// (B*T, span*C) and u's index b*T+u in the hidden states.
func (c *Classifier) eachWindow(B int, buf []float32, f func(slot []float32, src int)) {
	T, C, S := c.T, c.C, convSpan*c.C
	for b := range B {
		for t, a := range c.pool[b*T : (b+1)*T] {
			if a == 0 {
				continue
			}
			for j := range convSpan {
				u := t + j - convSpan/2
				if u < 0 || u >= T || c.pool[b*T+u] == 0 {
					continue
				}
				f(buf[(b*T+t)*S+j*C:(b*T+t)*S+(j+1)*C], b*T+u)
			}
		}
	}
}

// mat is a row-major r x k view of data.
func mat(data []float32, r, k int) blas32.General {
	return blas32.General{Rows: r, Cols: k, Stride: k, Data: data[:r*k]}
}

// gelu is the tanh approximation of GELU, as the backbone's MLP.
func gelu(x float32) float32 {
	const k = 0.7978845608028654 // sqrt(2/pi)
	v := float64(x)
	return float32(0.5 * v * (1 + math.Tanh(k*(v+0.044715*v*v*v))))
}

// geluGrad is d gelu / dx.
func geluGrad(x float32) float32 {
	const k = 0.7978845608028654
	v := float64(x)
	u := k * (v + 0.044715*v*v*v)
	th := math.Tanh(u)
	return float32(0.5*(1+th) + 0.5*v*(1-th*th)*k*(1+3*0.044715*v*v))
}

// centreCrop keeps the centre T positions of s (start (len-T)/2, rounding
// down), or all of a shorter s: CropRule.
func centreCrop(s []uint8, T int) []uint8 {
	if len(s) <= T {
		return s
	}
	off := (len(s) - T) / 2
	return s[off : off+T]
}

// lengths is the shortest and the longest sequence of task.
func lengths(task *Task) (shortest, longest int) {
	shortest = math.MaxInt
	for _, part := range [][]Example{task.Train, task.Test} {
		for _, e := range part {
			shortest, longest = min(shortest, len(e.Seq)), max(longest, len(e.Seq))
		}
	}
	return shortest, longest
}

// CheckGrid refuses heads and learning rates Run cannot train.
func CheckGrid(heads []string, lrs []float64) error {
	for _, h := range heads {
		if !slices.Contains(Heads, h) {
			return fmt.Errorf("head %q: want one of %s", h, strings.Join(Heads, ", "))
		}
	}
	for _, lr := range lrs {
		if !(lr > 0) {
			return fmt.Errorf("lr %g: must be > 0", lr)
		}
	}
	return nil
}
