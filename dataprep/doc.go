// Package dataprep turns genomes and text corpora into token shards and reads
// them back for training.
//
// Tokenizer is what every tokenizer offers (name, vocabulary size,
// Encode/Decode, special ids); DNA is the character-level DNA tokenizer
// over the ids of package vocab ([CLS]=0 [SEP]=1 [BOS]=2 [MASK]=3 [PAD]=4
// [RESERVED]=5 [UNK]=6 A=7 C=8 G=9 T=10 N=11; docs/design.md).
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
// Text takes the same road (PrepText, seqdiff prep --text). WordPiece is
// bert-base-uncased (vocabulary 30,522, [PAD]=0 [UNK]=100 [CLS]=101
// [SEP]=102 [MASK]=103; lower-casing, accent stripping, punctuation
// splitting, ## continuations) and GPT2 is GPT-2's byte-level BPE (r50k_base,
// <|endoftext|>=50256) with [PAD]=50257 and [MASK]=50258 appended, 50,259
// ids, as MDLM adds them when a tokenizer lacks them (BERT has its own
// [MASK], so MDLM and seqdiff use 103 there); both encode exactly as the
// Hugging Face tokenizers (parity tests on reference ids). Two corpus
// styles: lm1b, one sentence a line, MDLM's LM1B detokenizer, each sentence
// one row [CLS] ... [SEP] padded with [PAD] to SeqLen (128) or cut; owt,
// documents (a folder of .txt files, a JSONL file with a "text" field, or
// blank-line-separated documents) each followed by EOS, concatenated and
// wrapped into rows that begin with BOS and end with EOS (MDLM's wrap, 1024
// by default). Each sentence or document goes to train, valid or test
// 90/5/5 by TextSplit, a seeded hash of its bytes. Rows are uint16; the
// manifest records the tokenizer, the element type and the framing, and the
// trainer takes the vocabulary, [MASK] and [PAD] ids of a text prep from it
// (the checkpoint then records the tokenizer, which sampling and scoring
// read back). WithBOS and CutAtEOS frame generated text the way the rows
// were framed.
//
// Open checks a prep directory's manifest against its files; SplitData holds
// one split in memory; a Loader draws batches of int32 ids in an epoch order
// fixed by a seed, resumable exactly from a Cursor, with optional
// reverse-complement augmentation; ReadRows and Batches read in order for
// evaluation.
package dataprep
