package main

import (
	"bytes"
	"strings"
	"testing"
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
}
