// Package nn is the shared seqdiff transformer: one struct of parameters
// laid out in a single contiguous buffer (a name/shape/offset table,
// ParamTable, in the style of llm.c), its forward and backward over a batch
// written side by side, the fused cross-entropy loss the objectives call,
// AdamW with decoupled weight decay, gradient clipping and an EMA of the
// weights, and the checkpoint format of docs/design.md with its one loader,
// LoadModel. Objective turns a clean batch into the loss inputs of a mode
// (wrapping packages mdlm and ar, where the math lives): every caller that
// computes a loss takes it.
//
// The model calls only the kernels of package compute, so it runs unchanged
// on the CPU backend (compute/cpu) or a device backend: parameters,
// gradients, optimiser state and activations live in backend memory and
// cross to the host only through Upload and Download.
//
// Backbone (must match shared/reference/torch_ref.py; scripts/parity.sh and
// TestTorchParity check it):
//
//	x = embed[tokens]
//	for each block: x += out(Attn(rope(ln1(x)))) ; x += fc2(gelu_tanh(fc1(ln2(x))))
//	logits = head(final_ln(x))
//
// With Config.TimeConditioning (MDLM's time_conditioning, off by default)
// the blocks are DiT adaLN blocks driven by c = silu(time_embed(emb(1000 t))),
// a sinusoidal embedding of each row's diffusion time (ForwardTime,
// LossInputs.Time):
//
//	shift1, scale1, gate1, shift2, scale2, gate2 = blocks.i.adaLN_modulation(c)
//	x += gate1 * out(Attn(rope(ln1(x) * (1 + scale1) + shift1)))
//	x += gate2 * fc2(gelu_tanh(fc1(ln2(x) * (1 + scale2) + shift2)))
//	logits = head(final_ln(x) * (1 + scale) + shift), (shift, scale) = final_ln.adaLN_modulation(c)
//
// with every adaLN_modulation zero at initialisation (adaLN-Zero).
//
// A training step:
//
//	loss, _ := model.Loss(inputs, keyMask, true) // Forward + CrossEntropy; logits become dlogits
//	model.ZeroGrad()
//	model.Backward()                             // accumulates into Grads
//	stats, _ := opt.Update(model, lr)            // clip, skip on NaN/Inf, AdamW, EMA
//
// Activations are allocated once per (B,T) batch shape and reused.
//
// Checkpoints are directories: config.json (Config, with format_version and
// a free-form "training" object), model.safetensors (float32, nn.Linear
// out x in layout, the tensor names of ParamTable), and optionally
// ema.safetensors (same names), optimizer.safetensors ("m.NAME" and
// "v.NAME", the update count in __metadata__ "step") and state.json (the
// trainer's resume state). Checkpoint.Save writes them atomically.
// python/seqdiff_torch.py loads them in PyTorch (docs/pytorch.md).
package nn
