package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// run executes the root command with args and returns stdout, stderr and the error.
func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), errb.String(), err
}

func TestVersion(t *testing.T) {
	out, _, err := run(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "seqdiff ") {
		t.Fatalf("version output %q", out)
	}
}

func TestCompletion(t *testing.T) {
	out, _, err := run(t, "completion", "bash")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "seqdiff") {
		t.Fatal("bash completion does not mention seqdiff")
	}
	// Fixed-choice flags complete to their values, not to file names.
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"pretrain", "--mode", ""}, []string{"mlm", "mdlm", "ar"}},
		{[]string{"sample", "--sampler", ""}, []string{"ddpm", "ddpm_cache"}},
		{[]string{"eval", "ppl", "--device", ""}, []string{"auto", "cpu", "cuda"}},
		{[]string{"prep", "--tokenizer", ""}, []string{"bert-base-uncased", "gpt2"}},
		{[]string{"prep", "--style", ""}, []string{"lm1b", "owt"}},
		{[]string{"model", "init", "--preset", ""}, []string{"dna-base", "dna-small"}},
	} {
		out, _, err := run(t, append([]string{"__complete"}, c.args...)...)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w+"\n") {
				t.Errorf("%v: completion lacks %s:\n%s", c.args, w, out)
			}
		}
		if !strings.Contains(out, ":4\n") { // ShellCompDirectiveNoFileComp
			t.Errorf("%v: completion offers file names:\n%s", c.args, out)
		}
	}
}

// TestFlagsOneMeaning: across commands a flag name means one thing: --out
// is a directory, a file is --output; short forms -o and -q where those
// flags exist; the old names still run as hidden aliases.
func TestFlagsOneMeaning(t *testing.T) {
	root := newRootCmd()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		for name, short := range map[string]string{"out": "o", "output": "o", "quiet": "q"} {
			f := c.LocalFlags().Lookup(name)
			if f == nil || f.Hidden {
				continue
			}
			if f.Shorthand != short {
				t.Errorf("%s --%s has no -%s", c.CommandPath(), name, short)
			}
			if name == "out" && strings.Contains(f.Usage, "file") {
				t.Errorf("%s --out is a file: %q", c.CommandPath(), f.Usage)
			}
		}
		for _, old := range []string{"ema", "samples", "no-rc", "steps", "warmup", "out"} {
			if f := c.LocalFlags().Lookup(old); f != nil && f.Hidden && f.Deprecated == "" {
				t.Errorf("%s --%s is hidden without a deprecation note", c.CommandPath(), old)
			}
		}
	}
	walk(root)
	for _, path := range [][]string{{"eval", "ppl"}, {"eval", "samples"}, {"sample"}, {"model", "logits"}, {"finetune"}} {
		c, _, _ := root.Find(path)
		if c.Flags().Lookup("raw") == nil {
			t.Errorf("%s: no --raw", c.CommandPath())
		}
	}
}

// TestExitCodes: the seqdiff process exits 0 on success, 2 on a usage
// error (unknown flag, missing required flag, a value out of range, a
// value not among a flag's choices, a missing argument), 1 on a runtime
// error (bad input), and says why on stderr.
func TestExitCodes(t *testing.T) {
	tmp := t.TempDir()
	missing := filepath.Join(tmp, "absent")
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"version"}, 0, ""},
		{[]string{"pretrain", "--no-such-flag"}, 2, "unknown flag: --no-such-flag"},
		{[]string{"nosuchcommand"}, 2, "unknown command"},
		{[]string{"model", "init"}, 2, `required flag(s) "out" not set`},
		{[]string{"index"}, 2, "accepts 1 arg"},
		{[]string{"pretrain", "--mode", "gpt", "--data", missing, "--out", missing}, 2, `"gpt" for "--mode"`},
		{[]string{"eval", "ppl", "--ckpt", missing, "--data", missing, "--draws", "0"}, 2, "--draws 0: must be >= 1"},
		{[]string{"eval", "kmer", "--data", missing, "--bidirectional", "7"}, 2, "--bidirectional 7: M runs from 1 to 6"},
		{[]string{"eval", "kmer", "--data", missing, "--bidirectional", "0"}, 2, "--bidirectional 0: M runs from 1 to 6"},
		{[]string{"eval", "kmer", "--data", missing, "--bidirectional", "2", "--k", "4"}, 2, "--k is for the one-sided"},
		{[]string{"eval", "kmer", "--data", missing, "--draws", "2"}, 2, "--draws goes with --bidirectional"},
		{[]string{"eval", "kmer", "--data", missing, "--bidirectional", "2"}, 1, missing},
		{[]string{"pretrain", "--data", missing, "--out", missing}, 2, "no stopping rule"},
		{[]string{"finetune", "--task", "human_or_worm", "--from", missing, "--out", missing, "--head", "max"}, 2, `--head "max": want one of`},
		{[]string{"finetune", "--task", "human_or_worm", "--from", missing, "--out", missing, "--lr", "0"}, 2, "--lr 0: must be > 0"},
		{[]string{"finetune", "--mode", "ar", "--data", missing, "--from", missing, "--out", missing, "--lr", "1e-4,1e-3"}, 2, "takes one --lr"},
		{[]string{"pretrain", "--data", missing, "--out", missing, "--max-steps", "1"}, 1, missing},
		{[]string{"eval", "ppl", "--ckpt", missing, "--data", missing}, 1, missing},
		{[]string{"eval", "samples", "--samples", missing, "--data", missing, "--max-ref", "-1"}, 2, "--max-ref -1: must be >= 0"},
		{[]string{"eval", "samples", "--samples", missing, "--data", missing, "--raw"}, 2, "--raw goes with --scorer"},
		{[]string{"eval", "samples", "--samples", missing, "--data", missing}, 1, missing},
		{[]string{"index", missing}, 1, missing},
	} {
		p := start(t, tmp, c.args...)
		p.wait()
		stderr := p.stderr.String()
		if got := procExitCode(p); got != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("seqdiff %s: exit %d, want %d; stderr:\n%s", strings.Join(c.args, " "), got, c.code, stderr)
		}
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("a failed command left its output behind")
	}
}
