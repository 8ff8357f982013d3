// Package plots draws the study's figures with gonum.org/v1/plot, each as
// PNG and SVG:
//
//   - ppl_vs_accuracy: test perplexity (AR exact, MDLM the NELBO upper
//     bound) against downstream test accuracy, one point per model and
//     task, the mean over seeds with min-max error bars; MDLM and AR in
//     distinct colours and glyphs; one panel per task and an overview.
//   - learning_curves: train loss (running mean) and valid loss against
//     training tokens from each run's metrics.jsonl, modes overlaid.
//   - sampling_speed: generated tokens per second against model calls for
//     each MDLM sampler (ddpm, ddpm_cache, first_hitting, topk_confidence),
//     and AR with a KV cache as a reference line (from seqdiff bench sample
//     --json lines saved as bench.jsonl);
//   - sample_quality, when those lines carry quality (bench sample
//     --data): the 6-mer spectrum JS of each setting's samples to real
//     windows against tokens per second, AR's point, and the real-vs-real
//     floor.
//
// Collect finds the inputs by walking run directories: metrics.jsonl (with
// train.yaml for the mode), ppl.json (seqdiff eval ppl --json), results.json
// (seqdiff finetune --task) and bench.jsonl. A results.json is paired with
// the ppl.json nearest above it, else with the one of the same checkpoint.
// Directories whose names start with a dot (a study's partial outputs) are
// skipped.
package plots
