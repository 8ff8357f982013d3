package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/seqdiff/seqdiff/internal/atomicfile"
	"github.com/seqdiff/seqdiff/nn"
)

// HasCheckpoint reports whether the run directory holds a checkpoint to
// resume, after putting back one that a crash inside a checkpoint write
// left under its aside name (see RecoverCheckpoint).
func HasCheckpoint(runDir string) (bool, error) {
	ckDir := filepath.Join(runDir, nn.CheckpointDir)
	if err := RecoverCheckpoint(ckDir); err != nil {
		return false, err
	}
	_, err := os.Stat(filepath.Join(ckDir, nn.ConfigFile))
	return err == nil, nil
}

// RecoverCheckpoint tidies what a process killed inside nn.Checkpoint.Save
// leaves beside the checkpoint directory ckDir. Save writes
// .NAME.tmp-X, renames NAME to .NAME.old-X, renames the temporary
// directory to NAME and then removes the old one, so a SIGKILL leaves:
//   - NAME and a .NAME.tmp-X (killed while writing): the temporary is
//     incomplete and removed;
//   - NAME and a .NAME.old-X (killed after the swap): the old one is removed;
//   - no NAME but a .NAME.old-X (killed between the two renames): the old
//     checkpoint is complete and is renamed back to NAME (the newer one in
//     .NAME.tmp-X is dropped; the run redoes those steps).
//
// Nothing is removed while NAME is missing and no old one can replace it.
func RecoverCheckpoint(ckDir string) error {
	ckDir = filepath.Clean(ckDir)
	parent, base := filepath.Split(ckDir)
	if parent == "" {
		parent = "."
	}
	entries, err := os.ReadDir(parent)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", ckDir, err)
	}
	var tmps, olds []string
	for _, e := range entries {
		switch n := e.Name(); {
		case strings.HasPrefix(n, "."+base+".tmp-"):
			tmps = append(tmps, filepath.Join(parent, n))
		case strings.HasPrefix(n, "."+base+".old-"):
			olds = append(olds, filepath.Join(parent, n))
		}
	}
	if len(tmps)+len(olds) == 0 {
		return nil
	}
	if _, err := os.Lstat(ckDir); errors.Is(err, fs.ErrNotExist) {
		best, bestStep := "", -1
		for _, o := range olds {
			if s, ok := checkpointStep(o); ok && s > bestStep {
				best, bestStep = o, s
			}
		}
		switch {
		case best == "" && len(olds) > 0:
			return nil // nothing complete to put back: leave the files for a person to look at
		case best != "":
			if err := os.Rename(best, ckDir); err != nil {
				return fmt.Errorf("checkpoint %s: restore %s: %w", ckDir, best, err)
			}
			if err := atomicfile.SyncDir(parent); err != nil {
				return fmt.Errorf("checkpoint %s: %w", ckDir, err)
			}
		} // else the first checkpoint was being written: only temporaries
	} else if err != nil {
		return fmt.Errorf("checkpoint %s: %w", ckDir, err)
	}
	for _, p := range append(tmps, olds...) {
		if _, err := os.Lstat(p); err == nil {
			if err := os.RemoveAll(p); err != nil {
				return fmt.Errorf("checkpoint %s: remove leftover %s: %w", ckDir, p, err)
			}
		}
	}
	return nil
}

// checkpointStep is the step in dir's state.json, if dir is a checkpoint
// whose config and state read back.
func checkpointStep(dir string) (int, bool) {
	if _, err := nn.ReadConfig(dir); err != nil {
		return 0, false
	}
	b, err := os.ReadFile(filepath.Join(dir, nn.StateFile))
	if err != nil {
		return 0, false
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return 0, false
	}
	return st.Step, true
}
