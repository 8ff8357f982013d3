// Package ar holds the model-independent parts of the autoregressive
// (next-token) objective: target construction, exact log-likelihood
// accumulation and ancestral sampling with temperature, top-k and top-p.
//
// Training. Shift turns a batch x (B x L) into inputs x[:, :-1] and
// targets x[:, 1:] with weight 1 on non-PAD targets (PAD targets are
// dropped); the loss is sum_i Weights[i] * CE_i / Norm, Norm the number of
// non-PAD targets (0 for an all-PAD batch: skip it).
//
// Evaluation. AddNLL accumulates -log softmax(logits)[target] over non-PAD
// targets into an evaluate.NLL; exp of its mean is the exact perplexity (no
// bound, unlike MDLM).
//
// Sampling. A StepModel consumes one token per row per call and keeps its
// own key/value cache; Sampler feeds the prompt through it one position at
// a time, then draws each next token from the model's distribution
// restricted to the samplable ids, after temperature, top-k and nucleus
// (top-p) filtering. Past the context of a Bounded model the window slides:
// when the cache is full, the last Keep tokens (half the context by
// default) are fed again into an empty cache and generation continues.
package ar
