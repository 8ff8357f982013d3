// Package train is the training loop shared by every objective of seqdiff:
// mlm (BERT/Caduceus masking, bidirectional), mdlm (continuous-time masked
// diffusion, bidirectional) and ar (next token, causal), all on the one
// backbone of package nn.
//
// A step draws Accum batches of Batch rows from the train split (seeded
// epochs, reverse complement augmentation, dataprep.Loader), corrupts all
// of them together by the mode's objective (nn.Objective, the one path
// from a clean batch to a loss; MDLM's times stratified over the rows by
// default, Config.TSampling), runs forward, the fused cross-entropy and
// backward Batch rows at a time, summing the gradients (each micro-batch's
// loss is over the whole step's normaliser, so the step is that of one
// batch of Accum x Batch rows), and applies AdamW with the learning rate
// of a linear warm-up followed by a cosine decay to MinLRFrac*LR, clipping
// the global gradient norm at ClipNorm (1.0). Steps, the schedule and its
// horizon count optimizer steps.
//
// What is guaranteed:
//   - No NaN or Inf reaches the weights: a step whose gradient norm is not
//     finite is logged as skipped (nn.Optimizer.Update leaves weights,
//     moments and EMA untouched); MaxBadSteps of them in a row stop the run
//     with an error and without writing a checkpoint, so the last good one
//     stays; a signal or the end of the run during such a streak does not
//     checkpoint either.
//   - A batch of only [PAD] contributes nothing (no forward, no update).
//   - Resume is exact: a checkpoint holds the weights, the AdamW moments and
//     EMA, and state.json with the step, tokens seen, the masking RNG state,
//     the data cursor, the elapsed time and the byte offset of the metrics
//     log, which resume truncates to. With the same seed and thread count
//     the final weights are bit-identical to an uninterrupted run.
//   - The EMA (decay EMA, default 0.9999) is warmed up as in TensorFlow's
//     ExponentialMovingAverage with num_updates: the decay used at update n
//     is min(EMA, (1+n)/(10+n)), so short runs average recent weights
//     rather than staying at the initialisation. It is saved as
//     ema.safetensors; evaluation and sampling use it when present.
//
// The cosine schedule's horizon is MaxSteps, or MaxTokens divided by the
// tokens of a full batch (a time budget beside them is only a stop). A run
// with a time budget alone (Config.BudgetOnly) follows warmup-stable-decay
// (WSD, Hägele et al. 2024): the warm-up, then constant lr until
// (1-DecayFrac) of the budget is spent (elapsed training time, across
// resumes); then a linear decay to MinLRFrac*LR whose length in steps is
// planned once from this process's time per step to fill the rest of the
// budget, and the run stops when it is complete (or, a safety stop, at
// (1+DecayFrac) x the budget). The plan is in state.json, so from the
// step the decay began the schedule is a function of the step and resume
// stays exact; before it, too. Only where the decay begins and how long
// it lasts depend on the clock.
//
//   - A SIGKILL at any moment loses at most the steps since the last
//     checkpoint: RecoverCheckpoint tidies what a kill inside a checkpoint
//     write leaves (and puts back a checkpoint killed between its two
//     renames) before a run starts or resumes.
//
// A run directory holds train.yaml (the resolved configuration), LOCK
// (flock(2)-locked by the process writing the directory, with its PID and
// host; the kernel drops the lock when that process dies, so a crashed
// run never blocks the next), metrics.jsonl (one JSON object per step)
// and checkpoint/ (the latest nn.Checkpoint, replaced atomically).
package train
