// Package dataprep turns genomes into token shards and reads them back for
// training.
//
// The pipeline is one streaming pass (Prep): FASTA records from package genome
// are cut into windows of SeqLen bases, every window is tokenized with a
// lookup table (DNA tokenizer, ids of DESIGN.md) straight into the shard
// buffer of its split, and windows with too many N are dropped. Splits
// (train/valid/test) come from a BED file of intervals, from chromosome
// lists, or from hashing fixed-size blocks of each chromosome, so that no
// window straddles two splits. A prep directory holds fixed-length rows of
// uint8 ids in shard files (train-00000.bin, …) and manifest.json.
//
// Open reads a prep directory back: it checks the manifest against the
// files, and its Loader draws random batches in an epoch order fixed by a
// seed, resumable from a Cursor, with optional reverse-complement
// augmentation.
package dataprep
