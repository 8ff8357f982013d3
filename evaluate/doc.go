// Package evaluate holds what scores models without running them: an
// order-k Markov (k-mer) baseline for DNA perplexity, downstream task
// metrics (accuracy, Matthews correlation with Gorodkin's multiclass R_K,
// macro F1, summaries over seeds) and chi-square tests used to check that
// samplers draw from the right distributions.
//
// The k-mer model works on token rows of the DNA vocabulary (A C G T N =
// 7..11). With Discount smoothing (the default) it reproduces the issue's
// reference on GRCh37 chr20 (train: first 90%, test: last 5%): unigram
// perplexity 4.09 and k = 4 about 3.84; see TestKmerChr20Full.
package evaluate
