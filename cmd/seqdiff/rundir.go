package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/train"
)

// newRunDir makes the run directory dir; the function it returns, called
// deferred with the command's error, removes dir again when this call made
// it and the command failed while it is still empty, so that bad input
// leaves nothing behind.
func newRunDir(dir string) (undo func(err error), err error) {
	_, serr := os.Stat(dir)
	made := errors.Is(serr, fs.ErrNotExist)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("run dir: %w", err)
	}
	return func(err error) {
		if made && err != nil {
			os.Remove(dir) // only an empty directory goes
		}
	}, nil
}

// trainEnded reports how the training run tr in dir ended (Run returned
// why, err): the command that resumes it after a clean stop, else the stop
// reason and the checkpoint.
func trainEnded(stderr io.Writer, tr *train.Trainer, dir, resume, why string, err error) error {
	ck := filepath.Join(dir, nn.CheckpointDir)
	if errors.Is(err, train.ErrInterrupted) {
		return fmt.Errorf("interrupted at step %d; checkpoint written to %s; resume with: %s", tr.Step(), ck, resume)
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stderr, "done: %s at step %d, %d tokens; checkpoint %s\n", why, tr.Step(), tr.Tokens(), ck)
	return err
}
