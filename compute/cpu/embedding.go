package cpu

import (
	"fmt"

	"github.com/seqdiff/seqdiff/compute"
)

// EmbeddingForward: out (N,C) = wte (V,C) [tok (N)].
// Ids outside [0, V) are a programmer error (tokenizers validate input).
func (b *Backend) EmbeddingForward(out compute.F32, tok compute.I32, wte compute.F32, N, C int) {
	V := wte.N / C
	for n, id := range tok.Host[:N] {
		if id < 0 || int(id) >= V {
			panic(fmt.Sprintf("cpu: EmbeddingForward: token %d at row %d outside [0,%d)", id, n, V))
		}
	}
	o, w, t := out.Host, wte.Host, tok.Host
	b.parallelRange(N, 256, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			id := int(t[n])
			copy(o[n*C:(n+1)*C], w[id*C:(id+1)*C])
		}
	})
}

// EmbeddingBackward: dwte (V,C) += scatter of dout (N,C) by tok (N).
// Threads own column ranges and walk the rows in order, so repeated ids
// sum in the same order whatever the thread count.
func (b *Backend) EmbeddingBackward(dwte, dout compute.F32, tok compute.I32, N, C int) {
	if dwte.N == 0 { // no gradient wanted (frozen embedding)
		return
	}
	dw, d, t := dwte.Host, dout.Host, tok.Host[:N]
	b.parallelRange(C, 16, func(lo, hi int) {
		for n, id := range t {
			dst := dw[int(id)*C+lo : int(id)*C+hi]
			src := d[n*C+lo : n*C+hi]
			for i, v := range src {
				dst[i] += v
			}
		}
	})
}
