package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/seqdiff/seqdiff/genome"
)

func init() { register(newIndexCmd) }

type indexOptions struct {
	quiet bool
}

func newIndexCmd() *cobra.Command {
	o := &indexOptions{}
	cmd := &cobra.Command{
		Use:   "index FASTA",
		Short: "Write a samtools-compatible .fai (and .gzi for BGZF) index of a FASTA file",
		Long: `index scans FASTA (plain or BGZF) and writes FASTA.fai, byte for byte what
samtools faidx writes. For a BGZF file it also writes the block index
FASTA.gzi, unless the one there already matches the file. Both are written
to a temporary file and renamed into place, so a failed run leaves no part
of an index behind.

A plain gzip file (not BGZF) cannot be indexed: recompress it with bgzip.
Like samtools, index refuses records whose lines differ in length (except
the last) or that hold blank lines; it also refuses everything the FASTA
reader does (bytes outside A C G T N and the IUPAC codes, records without
sequence, duplicate names), naming the file, record and line.`,
		Example: `  seqdiff index hg38.fa
  seqdiff index GRCh37_chr20.fa.gz    # BGZF: writes .fai and .gzi`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, args[0])
		},
	}
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "print nothing on success")
	return cmd
}

func (o *indexOptions) run(cmd *cobra.Command, path string) error {
	note, err := genome.Index(path)
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	if !o.quiet {
		_, err = fmt.Fprintln(cmd.OutOrStdout(), note)
	}
	return err
}
