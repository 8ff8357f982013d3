// Package finetune adapts a pre-trained seqdiff backbone: generative
// fine-tuning with the MDLM or AR objective (Generative, through the shared
// trainer of package train), and downstream classification (Run) on
// labelled DNA tasks read by Load.
//
// Downstream model: the backbone's final hidden states (after final_ln),
// with its own attention (bidirectional for mlm and mdlm checkpoints,
// causal for ar), then a head with its own weights, gradients and AdamW
// (Classifier); the whole backbone is fine-tuned. The backbone carries only
// relative (rotary) positions, so the head decides what position can do:
// HeadMean and HeadCentre pool the valid positions (all, or the central
// quarter), HeadFlat has a weight per position (a position weight matrix
// over the hidden states, for aligned fixed-length tasks), HeadConv pools
// a GELU layer over each position and its two neighbours (ConvFeatures
// wide): what a k-mer spectrum averages, from a backbone that has not yet
// learned its neighbours. Reverse-complement augmentation (Options.RC)
// skips HeadFlat, whose weights are tied to positions that flipping moves. Lengths: a sequence longer
// than the context is centre-cropped (the T positions starting at
// (len-T)/2); a shorter one is padded with [PAD], which a key-padding mask
// keeps out of the attention keys and out of the head (CropRule).
//
// Per seed, the train part is split 90/10 into train and valid by
// SplitIndex with that seed. Every head and learning rate of the grid
// (Options.Heads, Options.LRs; default DefaultHeads on fixed-length tasks,
// else mean, and DefaultLRs) is trained; each stops after Patience
// evaluations of the valid loss without improvement, not before MinEpochs,
// and keeps its best weights. The grid point with the lowest valid loss is
// scored on the test part (accuracy, MCC, macro F1); SeedResult records
// the head and learning rate chosen and every trial (Grid). The valid loss,
// not the accuracy, decides, because on a valid part of a hundred rows the
// accuracy moves in steps of 1% and ties. At a small scale, MaxTrain caps
// the train rows a seed uses (a stratified sample by Subsample, before the
// train/valid split) and MaxTest the test rows scored (one stratified
// sample for every seed and model).
//
// Baseline gives the network-free rows of the same tables, with the seeds,
// samples, splits and crop of Run: logistic regression on k-mer spectra (k
// chosen on valid per seed), what composition alone gets, and on the
// one-hot base at each position (L2 chosen on valid), what position alone
// gets on an aligned task. AddBaselines puts both into Results.Baselines,
// and Markdown marks a network row below the best of them. The PyTorch
// reference backbone fine-tuned with the mean head (normal(0, 0.02), AdamW,
// warm-up + cosine, clipping at 1) on the demo's human_or_worm reaches the
// same accuracy as Run did with that head (about 0.62-0.65 after two
// epochs), so a gap to the k-mer row there is the model's, not this code's.
//
// Task formats (Load):
//   - a TSV or CSV table (plain or gzip) with a header naming the sequence
//     and label columns (default "seq" and "label", the format of the
//     Genomic Benchmarks exports in ../shared/data/benchmarks); the delimiter
//     is a tab when the header holds one, else a comma; quoted fields, CRLF
//     and a UTF-8 byte order mark are handled;
//   - the Genomic Benchmarks directory layout TASK/train|test/CLASS/*.txt
//     (one sequence per file);
//   - its coordinate form TASK/train|test/CLASS.csv[.gz] (id,region,start,
//     end,strand; 0-based half-open, as genomic_benchmarks slices pyfaidx)
//     materialised against an indexed genome FASTA, reverse-complemented on
//     the minus strand.
//
// Labels may be strings or integers; classes are sorted numerically when
// all labels are integers, else lexically. Sequence letters read
// case-insensitively and IUPAC ambiguity codes as N; any other character,
// an empty sequence or label, a missing column, a label seen only in test
// and a single class are errors naming the file and line.
//
// When a task has one file only (the two benchmark TSVs in ../shared/data
// are the published test splits), it is split into train and test by
// SplitIndex(labels, TestFrac=0.2, SplitSeed=42): within each class, rows
// ordered by the FNV-1a hash of (seed, row index) and the first 20% go to
// test. Results.Split records the rule.
//
// HumanOrWorm derives a real labelled task from the two genome slices
// shipped in the binary, as Genomic Benchmarks' demo_human_or_worm does:
// 200 bp windows of human chr22 and C. elegans chrX, windows with N
// dropped, classes balanced, chosen with a fixed seed.
package finetune
