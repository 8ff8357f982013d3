// Package compute is the kernel interface the seqdiff transformer is built
// on: a small set of fused float32 kernels (embedding, LayerNorm, matmul,
// rotary, attention, GELU, cross-entropy, pooling, AdamW), each with its
// forward and backward side by side, in the style of llm.c.
//
// The model in package nn calls only this interface, so the CPU
// implementation (package compute/cpu) and a device implementation can be
// swapped without touching the model.
package compute
