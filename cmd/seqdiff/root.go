package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "seqdiff",
		Short: "Train and compare diffusion and autoregressive language models on DNA",
		Long: `seqdiff takes a genome FASTA to token shards, trained masked diffusion (MDLM)
and autoregressive (AR) models on one shared transformer, perplexities,
downstream task scores and plots, on a CPU or an NVIDIA GPU.

Exit status: 0 success, 1 runtime error (bad input, a failed run), 2 usage
error (unknown flag, missing required flag, a value out of range), 130
after a clean stop on SIGINT (143 on SIGTERM).`,
		Example: `  # Token shards from the embedded genome slice
  seqdiff prep --out data/demo

  # Token shards from a real genome
  seqdiff prep --fasta hg38.fa.gz --out data/hg38 --seq-len 1024

  # Write a samtools-compatible .fai index
  seqdiff index hg38.fa`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			propagateAliases(cmd.Flags())
			if cmd.Annotations[cleanStop] != "" {
				stopsCleanly.Store(true)
			}
			return nil
		},
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w\nRun '%s --help' for usage", err, cmd.CommandPath())}
	})
	root.AddCommand(commands()...)
	markRuntime(root)
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

// cleanStop annotates the commands that stop cleanly on the first SIGINT or
// SIGTERM (they watch their context: a checkpoint, no partial output);
// the others are ended by the signal at once.
const cleanStop = "stops-cleanly"

// usageError is a mistake in how seqdiff was called: exit status 2.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// usagef is a usageError: a flag value out of range, flags that do not go
// together.
func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// runtimeError is an error of a command's own work: exit status 1.
type runtimeError struct{ error }

func (e runtimeError) Unwrap() error { return e.error }

// markRuntime wraps every RunE so that what it returns is told apart from
// cobra's own errors (unknown commands and flags, missing required flags,
// wrong arguments), which are usage errors.
func markRuntime(c *cobra.Command) {
	if f := c.RunE; f != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			err := f(cmd, args)
			if err == nil || errors.As(err, new(usageError)) {
				return err
			}
			return runtimeError{err}
		}
	}
	for _, sub := range c.Commands() {
		markRuntime(sub)
	}
}

// exitCode is the exit status of err, returned by a command run under ctx:
// 0, 1 (runtime), 2 (usage), or 128 + the signal after a clean stop.
func exitCode(ctx context.Context, err error) int {
	var sig interrupted
	switch {
	case err == nil:
		return 0
	case errors.As(err, new(usageError)):
		return 2
	case errors.As(context.Cause(ctx), &sig):
		return 128 + sig.number
	case errors.As(err, new(runtimeError)):
		return 1
	}
	return 2
}

// aliasOf annotates a deprecated flag name with the flag it stands for.
const aliasOf = "alias-of"

// alias adds --old as a hidden, deprecated name of --name, sharing its
// value, so that a command line written for an earlier seqdiff still runs.
func alias(f *pflag.FlagSet, old, name string) {
	nf := f.Lookup(name)
	f.Var(nf.Value, old, nf.Usage)
	of := f.Lookup(old)
	of.NoOptDefVal = nf.NoOptDefVal
	of.Annotations = map[string][]string{aliasOf: {name}}
	f.MarkDeprecated(old, "use --"+name)
}

// propagateAliases marks a flag set through its alias as given, for the
// required-flag check and for flags.Changed.
func propagateAliases(f *pflag.FlagSet) {
	f.Visit(func(fl *pflag.Flag) {
		if to := fl.Annotations[aliasOf]; len(to) == 1 {
			f.Lookup(to[0]).Changed = true
		}
	})
}

// choice is a string flag that takes one of a fixed set of values: --help
// lists them, shell completion offers them, anything else is a usage
// error. match, when set, accepts values beyond the listed ones.
type choice struct {
	p       *string
	choices []string
	match   *regexp.Regexp
}

func (c *choice) String() string { return *c.p }
func (c *choice) Type() string   { return "string" }
func (c *choice) Set(s string) error {
	if !slices.Contains(c.choices, s) && (c.match == nil || !c.match.MatchString(s)) {
		return fmt.Errorf("%q: want %s", s, strings.Join(c.choices, ", "))
	}
	*c.p = s
	return nil
}

// choiceVar binds a choice flag to p with default def.
func choiceVar(cmd *cobra.Command, p *string, name, def string, choices []string, usage string) *choice {
	*p = def
	c := &choice{p: p, choices: choices}
	cmd.Flags().Var(c, name, usage+" ("+strings.Join(choices, ", ")+")")
	cmd.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(choices, cobra.ShellCompDirectiveNoFileComp))
	return c
}

// required marks flags that a command cannot run without.
func required(cmd *cobra.Command, names ...string) {
	for _, n := range names {
		cmd.MarkFlagRequired(n)
	}
}

// atLeast is a usage error unless each flag's value is at least min:
// atLeast(1, "batch", b, "rows", r).
func atLeast(min int, nameValues ...any) error {
	for i := 0; i+1 < len(nameValues); i += 2 {
		if v := nameValues[i+1].(int); v < min {
			return usagef("--%s %d: must be >= %d", nameValues[i], v, min)
		}
	}
	return nil
}
