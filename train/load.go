package train

import (
	"os"
	"path/filepath"

	"github.com/seqdiff/seqdiff/compute"
	"github.com/seqdiff/seqdiff/nn"
)

// CheckpointPath resolves dir to a checkpoint directory: dir itself when it
// holds config.json, else a run directory's checkpoint/.
func CheckpointPath(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, nn.ConfigFile)); err != nil {
		if _, err2 := os.Stat(filepath.Join(dir, CheckpointDir, nn.ConfigFile)); err2 == nil {
			return filepath.Join(dir, CheckpointDir)
		}
	}
	return dir
}

// LoadModel loads a checkpoint (or a run directory's latest checkpoint) for
// evaluation and sampling. With useEMA the EMA weights are loaded when the
// checkpoint has them (ema.safetensors), which is what seqdiff eval and
// sample do by default; emaUsed says whether they were.
func LoadModel(be compute.Backend, dir string, useEMA bool) (m *nn.Model, ck *nn.Checkpoint, emaUsed bool, err error) {
	m, ck, err = nn.LoadModel(be, CheckpointPath(dir))
	if err != nil {
		return nil, nil, false, err
	}
	if useEMA && ck.EMA != nil {
		if err := m.SetParams(ck.EMA); err != nil {
			return nil, nil, false, err
		}
		emaUsed = true
	}
	return m, ck, emaUsed, nil
}
