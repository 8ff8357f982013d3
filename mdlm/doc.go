// Package mdlm holds the model-independent parts of masked diffusion
// language models (MDLM, Sahoo et al. 2024) and of BERT-style masked
// language modelling: noise schedules, the forward masking process that
// builds a training batch, the NELBO estimate used for evaluation and the
// ancestral samplers.
//
// The model enters only through the Denoiser interface (noised tokens and
// per-row times in, B*L*V logits out), so everything here is tested with
// synthetic models whose true conditionals are known.
//
// Training. For a batch x0 (B x L token ids), SampleT draws one time per
// row (stratified over the batch by default, as the MDLM reference's
// antithetic sampling; TimeSampling) and Forward masks each non-PAD token
// with probability 1 - alpha(t). The returned Batch is what a fused weighted cross-entropy consumes:
//
//	loss = sum_i Weights[i] * CE(logits_i with [MASK] banned, Targets[i]) / Norm
//
// with Weights = w(t) = -alpha'(t)/(1 - alpha(t)) (1/t for the default
// log-linear schedule) at masked positions, 0 elsewhere, and Norm the
// number of non-PAD tokens; Norm 0 (a batch of only [PAD]) means "skip".
// MLM builds the same Batch for Caduceus/BERT masking (weights 1 on the 15%
// chosen positions, Norm their count).
//
// Evaluation. An Evaluator averages K draws of (t, mask) per sequence with
// stratified times and a per-row seed, so the NELBO does not depend on the
// batch size. exp(NELBO per token) is an upper bound on perplexity.
//
// Sampling. Sampler implements ddpm (T steps from all-[MASK]; a masked
// position is revealed at step t -> s with probability
// (alpha(s) - alpha(t))/(1 - alpha(t)), its token drawn from the model
// restricted to the samplable ids) and ddpm_cache (a row is not run through
// the model again until one of its positions changed, for models without
// time conditioning; ExpectedCalls gives the expected number of calls,
// about T (1 - e^{-L/T}) per row for the log-linear schedule). Positions not holding [MASK] in the input are clamped,
// which gives prefix/suffix/arbitrary infilling; SampleLong generates past
// the context length semi-autoregressively.
package mdlm
