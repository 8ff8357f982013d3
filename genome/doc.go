// Package genome reads genomes: FASTA files that are plain, gzip- or
// BGZF-compressed (detected from the content, not the name), their
// samtools-compatible .fai (and, for BGZF, .gzi) indexes, BED intervals,
// reverse complements and chromosome-name aliases.
//
// Every sequence this package returns holds only the upper-case bytes
// A, C, G, T and N: lower case (soft-masked repeats) reads as upper case
// and the IUPAC ambiguity codes R Y K M S W B D H V read as N. Any other
// byte in a sequence line (digits, '*', '-', '.', 'U', spaces) is a
// *FormatError naming the file, the record, the line and the byte.
//
// Two ways in:
//
//   - Open and Reader.Next stream records one after another. BGZF blocks
//     are inflated on all CPUs in parallel by a one-shot DEFLATE decoder
//     (inflate.go) and every block's CRC is checked; lines are normalised
//     through a 256-entry table, or 32 bytes at a time with AVX2 in
//     GOEXPERIMENT=simd builds. When FILE.fai exists it is checked against
//     the data as the records stream past (names, lengths, offsets and
//     first-line widths) and it sizes each record's buffer up front.
//   - OpenIndexed and Indexed.Fetch read any slice of any record by random
//     access through FILE.fai (and FILE.gzi for BGZF). BuildFai and
//     BuildGzi write indexes byte-identical to `samtools faidx`.
//
// VCF: OpenVCF and VCFReader.Next stream the records of a VCF (plain,
// gzip or BGZF), reading the fixed columns CHROM POS ID REF ALT after
// checking the #CHROM header line; ParseAllele tells sequence, '.', '*',
// symbolic and breakend ALT alleles apart. Malformed lines are
// *FormatErrors naming the file and the line.
//
// Chromosome names: CanonicalName is the alias rule (a leading "chr" is
// dropped, case is ignored, and M is MT), and ResolveName maps a user's
// name onto the names a file holds.
package genome
