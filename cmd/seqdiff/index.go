package main

import (
	"fmt"
	"slices"

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
	comp, err := genome.Sniff(path)
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	idx, err := genome.BuildFai(path)
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	gziNote := ""
	if comp == genome.BGZF {
		// Build the .gzi before writing anything, so that an error leaves
		// both indexes as they were.
		gzi, err := genome.BuildGzi(path)
		if err != nil {
			return fmt.Errorf("index: %w", err)
		}
		old, err := genome.ReadGzi(path + ".gzi")
		if err == nil && slices.Equal(old, gzi) {
			gziNote = fmt.Sprintf("; %s.gzi present and matching (%d blocks)", path, len(gzi))
		} else {
			if err := genome.WriteGzi(path+".gzi", gzi); err != nil {
				return fmt.Errorf("index: %w", err)
			}
			gziNote = fmt.Sprintf("; wrote %s.gzi (%d blocks)", path, len(gzi))
		}
	}
	if err := genome.WriteFai(path+".fai", idx); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	if o.quiet {
		return nil
	}
	var bases int64
	for _, e := range idx {
		bases += e.Length
	}
	recs := "records"
	if len(idx) == 1 {
		recs = "record"
	}
	_, err = fmt.Fprintf(cmd.OutOrStdout(), "wrote %s.fai: %d %s, %d bases (%s)%s\n", path, len(idx), recs, bases, comp, gziNote)
	return err
}
