// Package varscore gives VCF variants zero-shot scores under a seqdiff DNA
// model (`seqdiff score`): how much more likely the model finds the ALT
// allele than the REF allele, in nats, positive when ALT is more likely.
//
// Each ALT allele is scored in a window of the model's context (seq_len,
// or Options.Window) cut from the reference FASTA. Both windows are W
// bases: the allele (m = the longer of REF and ALT) after floor((W - m) /
// 2) bases of left flank; the REF window is the reference there, the ALT
// window the same left flank, the ALT allele and the reference after the
// REF allele up to W bases. Near a contig end both shift to stay inside it.
//
//   - AR (MethodAR): log p(ALT window) - log p(REF window), the exact
//     log-likelihoods of the two windows, as train.ScoreDNA and eval ppl
//     score DNA rows (a window's first base is not predicted).
//   - MDLM and MLM, same-length alleles (MethodMasked): the masked
//     marginal, log p(ALT | context) - log p(REF | context) at the
//     differing sites, masked together in the REF window (one forward pass
//     serves every ALT of a site).
//   - MDLM and MLM, indels (MethodNELBO): NELBO(REF window) - NELBO(ALT
//     window) under mdlm.Evaluator, K draws of (t, mask) from a seed,
//     keyed by record (mdlm.Evaluator.AddKeyed) so that the two windows
//     share their draws and the score does not depend on the batch.
//
// Options.RC scores the reverse complements of the same windows too and
// averages. Score pools the windows of many records, runs each distinct
// window once and batches them (Options.Batch windows per forward pass).
// Problems of one allele (a REF that does not match the FASTA, a missing
// contig, a symbolic ALT, ...) are reported in its Row and the others are
// scored. Writer writes the rows as TSV or JSON with a header that states
// the checkpoint, window, methods, K and seed.
package varscore
