package main

import (
	"errors"
	"strings"
	"testing"
)

// TestDeviceFlag: every command that computes offers --device with
// default auto, and rejects a device it does not know before doing work.
func TestDeviceFlag(t *testing.T) {
	root := newRootCmd()
	for _, path := range [][]string{
		{"pretrain"}, {"sample"}, {"eval", "ppl"}, {"bench", "train"}, {"bench", "sample"},
		{"model", "logits"}, {"model", "loss"},
	} {
		cmd, _, err := root.Find(path)
		if err != nil || cmd == root {
			t.Errorf("%v: command not found (%v)", path, err)
			continue
		}
		f := cmd.Flags().Lookup("device")
		if f == nil {
			t.Errorf("%s: no --device flag", cmd.CommandPath())
			continue
		}
		if f.DefValue != "auto" || !strings.Contains(f.Usage, "cuda:N") || cmd.Flags().Lookup("threads") == nil {
			t.Errorf("%s --device: default %q, usage %q", cmd.CommandPath(), f.DefValue, f.Usage)
		}
	}
	if _, _, err := run(t, "bench", "train", "--device", "gpu", "--steps", "1"); !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), `"gpu" for "--device"`) {
		t.Errorf("bench train --device gpu: %v", err)
	}
	if _, _, err := run(t, "bench", "sample", "--device", "cuda:x"); !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), "cuda:N") {
		t.Errorf("bench sample --device cuda:x: %v", err)
	}
}
