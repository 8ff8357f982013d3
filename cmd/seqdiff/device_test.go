package main

import (
	"encoding/json"
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

// TestDeviceCommand: device --json prints one JSON object whatever the
// machine has; where CUDA is unusable it exits 1 with the reason on one
// line, where it works it lists at least one GPU.
func TestDeviceCommand(t *testing.T) {
	out, _, err := run(t, "device", "--json")
	var r struct {
		OK      bool   `json:"ok"`
		Error   string `json:"error"`
		Devices []struct {
			Name string `json:"name"`
			Arch string `json:"arch"`
		} `json:"devices"`
	}
	if e := json.Unmarshal([]byte(out), &r); e != nil {
		t.Fatalf("device --json: %v in %q", e, out)
	}
	if r.OK != (err == nil) {
		t.Errorf("ok %v, err %v", r.OK, err)
	}
	if err != nil {
		if !errors.As(err, new(runtimeError)) || strings.Contains(err.Error(), "\n") || r.Error == "" {
			t.Errorf("no CUDA: want a runtime error on one line and the reason in the JSON, got %q (json %q)", err, r.Error)
		}
		t.Logf("no CUDA here: %v", err)
	} else if len(r.Devices) == 0 || r.Devices[0].Name == "" || !strings.HasPrefix(r.Devices[0].Arch, "sm_") {
		t.Errorf("CUDA works but devices = %+v", r.Devices)
	}
	txt, _, err2 := run(t, "device")
	if (err2 == nil) != (err == nil) || !strings.HasPrefix(txt, "driver  ") || !strings.Contains(txt, "\ncublas  ") {
		t.Errorf("device: err %v, output %q", err2, txt)
	}
}
