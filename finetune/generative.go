package finetune

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/seqdiff/seqdiff/dist"
	"github.com/seqdiff/seqdiff/internal/atomicfile"

	"github.com/seqdiff/seqdiff/compute"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/train"
)

// FromFile is the file in a generative fine-tuning run directory that says
// which checkpoint the run started from.
const FromFile = "finetune.json"

// Origin is FromFile.
type Origin struct {
	From     string `json:"from"`
	FromMode string `json:"from_mode"`
	FromStep any    `json:"from_step,omitempty"`
	EMA      bool   `json:"ema"`
	Mode     string `json:"mode"`
}

// ReadOrigin reads the Origin of the generative fine-tuning run in dir.
func ReadOrigin(dir string) (Origin, error) {
	var org Origin
	p := filepath.Join(dir, FromFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return org, err
	}
	if err := json.Unmarshal(b, &org); err != nil {
		return org, fmt.Errorf("%s: %w", p, err)
	}
	return org, nil
}

// GenerativeOptions configure generative fine-tuning.
type GenerativeOptions struct {
	From   string       // checkpoint or run directory of the pre-trained backbone
	Cfg    train.Config // the run: Mode (mdlm or ar), Data, Out, schedule...
	Resume bool         // continue Cfg.Out from its own checkpoint
	Raw    bool         // start from the trained weights even when From has an EMA
	Stderr io.Writer
	// Comm, under an MPI launcher, makes the run data-parallel as pretrain's
	// (train.NewDist); rank 0 alone writes. nil: one process.
	Comm *dist.Comm
}

// Generative fine-tunes the backbone of o.From with the objective
// o.Cfg.Mode through the shared trainer: the run is a train.Trainer whose
// weights (and EMA) start from the checkpoint's (its EMA by default)
// instead of a random initialisation; the model shape and context length
// are the checkpoint's. The mode decides the attention: an ar run from an
// MLM or MDLM backbone is causal. Optimiser moments, schedule and step start
// afresh; with Resume the run continues from its own checkpoint exactly as
// seqdiff pretrain --resume does.
func Generative(ctx context.Context, be compute.Backend, o GenerativeOptions) (string, *train.Trainer, error) {
	cfg := o.Cfg
	if cfg.Mode != nn.ModeMDLM && cfg.Mode != nn.ModeAR {
		return "", nil, fmt.Errorf("finetune --mode %q: want mdlm or ar", cfg.Mode)
	}
	if o.From == "" {
		return "", nil, errors.New("finetune: pass --from CKPT")
	}
	ckDir := nn.CheckpointPath(o.From)
	src, err := nn.ReadConfig(ckDir)
	if err != nil {
		return "", nil, fmt.Errorf("finetune --from: %w", err)
	}
	cfg.Preset, cfg.DModel, cfg.NLayers, cfg.NHeads, cfg.SeqLen = "", src.DModel, src.NLayers, src.NHeads, src.SeqLen
	if err := cfg.Validate(); err != nil {
		return "", nil, err
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return "", nil, fmt.Errorf("run dir: %w", err)
	}
	data, err := train.OpenData(cfg.Data, cfg.Batch, cfg.Seed, cfg.RC)
	if err != nil {
		return "", nil, err
	}
	tr, err := train.NewDist(be, cfg, data, o.Resume, o.Comm)
	if err != nil {
		return "", nil, err
	}
	tr.Stderr = o.Stderr
	if !o.Resume {
		ck, err := nn.LoadCheckpoint(ckDir)
		if err != nil {
			tr.Close()
			return "", nil, err
		}
		p, ema := ck.Params, false
		if ck.EMA != nil && !o.Raw {
			p, ema = ck.EMA, true
		}
		if err := tr.Model.SetParams(p); err != nil {
			tr.Close()
			return "", nil, fmt.Errorf("finetune --from %s: %w", o.From, err)
		}
		if e := tr.Opt.EMA(); e.N != 0 {
			be.Copy(e, tr.Model.Params()) // the EMA starts at the loaded weights, not the random ones
		}
		org := Origin{From: o.From, FromMode: src.Mode, EMA: ema, Mode: cfg.Mode}
		if ck.State != nil {
			org.FromStep = ck.State["step"]
		}
		b, _ := json.MarshalIndent(org, "", "  ")
		if o.Comm.Rank() == 0 {
			if err := atomicfile.WriteFile(filepath.Join(cfg.Out, FromFile), append(b, '\n')); err != nil {
				tr.Close()
				return "", nil, err
			}
		}
	}
	if o.Stderr != nil && o.Comm.Rank() == 0 {
		fmt.Fprintf(o.Stderr, "finetune %s from %s (%s): %d params, %s, %s, run dir %s (from step %d)\n",
			cfg.Mode, o.From, src.Mode, tr.Model.NumParams(), tr.BatchString(), tr.Schedule(), cfg.Out, tr.Step())
	}
	why, err := tr.Run(ctx)
	return why, tr, err
}
