package main

import (
	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "seqdiff",
		Short: "Train and compare diffusion and autoregressive language models on DNA",
		Long: `seqdiff takes a genome FASTA to token shards, trained masked diffusion (MDLM)
and autoregressive (AR) models on one shared transformer, perplexities,
downstream task scores and plots, on a CPU or an NVIDIA GPU.`,
		Example: `  # Token shards from the embedded genome slice
  seqdiff prep --out data/demo

  # Token shards from a real genome
  seqdiff prep --fasta hg38.fa.gz --out data/hg38 --seq-len 1024

  # Write a samtools-compatible .fai index
  seqdiff index hg38.fa`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(commands()...)
	return root
}

// registry of subcommands; each command's file adds its constructor in init
// so that files can be added without editing this one.
var cmdCtors []func() *cobra.Command

func register(f func() *cobra.Command) { cmdCtors = append(cmdCtors, f) }

func commands() []*cobra.Command {
	out := make([]*cobra.Command, 0, len(cmdCtors))
	for _, f := range cmdCtors {
		out = append(out, f())
	}
	return out
}
