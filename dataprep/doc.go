// Package dataprep turns genomes into token shards and reads them back for
// training.
//
// Tokenizer is what every tokenizer offers (name, vocabulary size,
// Encode/Decode, special ids); DNA is the character-level DNA tokenizer of
// DESIGN.md ([CLS]=0 [SEP]=1 [BOS]=2 [MASK]=3 [PAD]=4 [RESERVED]=5 [UNK]=6
// A=7 C=8 G=9 T=10 N=11), and ReverseComplement works on its ids.
//
// Prep is one streaming pass: FASTA records from package genome are cut
// into windows of SeqLen bases every Stride bases, each window is tokenized
// straight into the buffer of its split (a lookup on the low nibble, one
// VPSHUFB per 32 bases with GOEXPERIMENT=simd), windows with more than MaxN
// N (and all-N windows) are dropped, and the buffers go to fixed-length
// uint8 shard files (train-00000.bin, …) in order. Splits come, in order of
// precedence, from a BED file of intervals (windows lie wholly inside one),
// from chromosome lists, or from blocks of Block bases hashed to 90/5/5
// (BlockSplit), with a fix-up that gives every split a block when there are
// three or more; no window straddles two splits. manifest.json records the
// input's sha256, every parameter and each split's windows, tokens, N
// fraction and shards. The output directory appears atomically.
//
// Open checks a prep directory's manifest against its files; SplitData holds
// one split in memory; a Loader draws batches of int32 ids in an epoch order
// fixed by a seed, resumable exactly from a Cursor, with optional
// reverse-complement augmentation; ReadRows and Batches read in order for
// evaluation.
package dataprep
