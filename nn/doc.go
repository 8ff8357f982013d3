// Package nn is the shared seqdiff transformer: one struct of parameters
// laid out in a single contiguous buffer (a name/shape/offset table, in the
// style of llm.c), its forward and backward over a batch written side by
// side, the fused cross-entropy loss the objectives call, AdamW with
// decoupled weight decay, gradient clipping and an EMA of the weights, and
// the checkpoint format of DESIGN.md (config.json plus safetensors).
//
// The model calls only the kernels of package compute, so it runs unchanged
// on the CPU backend (compute/cpu) or a device backend: parameters and
// activations live in backend memory and cross to the host only through
// Upload and Download.
//
// Backbone (must match shared/reference/torch_ref.py):
//
//	x = embed[tokens]
//	for each block: x += out(Attn(rope(ln1(x)))) ; x += fc2(gelu_tanh(fc1(ln2(x))))
//	logits = head(final_ln(x))
package nn
