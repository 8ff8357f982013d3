package nn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/seqdiff/seqdiff/compute"
	"github.com/seqdiff/seqdiff/internal/atomicfile"
)

// Checkpoint file names inside a checkpoint directory.
const (
	ConfigFile    = "config.json"
	ModelFile     = "model.safetensors"
	EMAFile       = "ema.safetensors"
	OptimizerFile = "optimizer.safetensors"
	StateFile     = "state.json"
)

// Checkpoint is a checkpoint directory held in host memory. Params, EMA,
// M and V are laid out by ParamTable(Config). EMA, M/V and State are
// optional (nil: not written / not present).
type Checkpoint struct {
	Config Config
	Params []float32
	EMA    []float32
	// AdamW moments and the number of updates applied.
	M, V    []float32
	OptStep int
	// State is the trainer's resume state (step, RNG state, data cursor,
	// ...), written as state.json. The model does not interpret it.
	State map[string]any
}

// Snapshot downloads model (and opt, if not nil) into a Checkpoint.
func Snapshot(model *Model, opt *Optimizer, state map[string]any) *Checkpoint {
	ck := &Checkpoint{Config: model.Cfg, Params: model.ParamsHost(), State: state}
	if opt != nil {
		be := model.Backend()
		ck.M, ck.V = make([]float32, opt.m.N), make([]float32, opt.v.N)
		be.Download(ck.M, opt.m)
		be.Download(ck.V, opt.v)
		ck.OptStep = opt.Step
		if opt.ema.N != 0 {
			ck.EMA = make([]float32, opt.ema.N)
			be.Download(ck.EMA, opt.ema)
		}
	}
	return ck
}

// Restore uploads the checkpoint's moments, step and EMA into opt (built
// for a model of the checkpoint's shape). A checkpoint without optimizer
// state is an error: resuming would silently restart the moments.
func (ck *Checkpoint) Restore(opt *Optimizer) error {
	if ck.M == nil || ck.V == nil {
		return errors.New("restore optimizer: checkpoint has no " + OptimizerFile)
	}
	if len(ck.M) != opt.m.N {
		return fmt.Errorf("restore optimizer: %d moments for %d parameters", len(ck.M), opt.m.N)
	}
	opt.be.Upload(opt.m, ck.M)
	opt.be.Upload(opt.v, ck.V)
	opt.Step = ck.OptStep
	if opt.ema.N != 0 {
		if ck.EMA == nil {
			return errors.New("restore optimizer: EMA is on but the checkpoint has no " + EMAFile)
		}
		opt.be.Upload(opt.ema, ck.EMA)
	}
	return nil
}

// Save writes ck as the directory dir, atomically: everything is written
// and fsynced in a temporary directory beside dir, which then replaces
// dir by rename. An existing dir is first renamed aside and removed only
// after the new one is in place, so a crash leaves either the old or the
// new checkpoint (possibly under the aside name), never a mix.
func (ck *Checkpoint) Save(dir string) error {
	if err := ck.Config.Validate(); err != nil {
		return fmt.Errorf("save %s: %w", dir, err)
	}
	table := ParamTable(ck.Config)
	n := NumParams(ck.Config)
	if len(ck.Params) != n {
		return fmt.Errorf("save %s: %d parameters, config needs %d", dir, len(ck.Params), n)
	}
	dir = filepath.Clean(dir)
	parent, base := filepath.Split(dir)
	if parent == "" {
		parent = "."
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("save %s: %w", dir, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".tmp-")
	if err != nil {
		return fmt.Errorf("save %s: %w", dir, err)
	}
	defer os.RemoveAll(tmp) // no-op after the rename
	cfg := ck.Config
	if cfg.FormatVersion == 0 {
		cfg.FormatVersion = FormatVersion
	}
	cj, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("save %s: %w", dir, err)
	}
	meta := map[string]string{"format": "pt", "seqdiff_format_version": strconv.Itoa(FormatVersion)}
	files := []struct {
		name  string
		write func(io.Writer) error
	}{
		{ConfigFile, func(w io.Writer) error { _, err := w.Write(append(cj, '\n')); return err }},
		{ModelFile, func(w io.Writer) error { return WriteSafetensors(w, tableTensors(ck.Params, table, ""), meta) }},
	}
	if ck.EMA != nil {
		if len(ck.EMA) != n {
			return fmt.Errorf("save %s: EMA has %d values, want %d", dir, len(ck.EMA), n)
		}
		files = append(files, struct {
			name  string
			write func(io.Writer) error
		}{EMAFile, func(w io.Writer) error { return WriteSafetensors(w, tableTensors(ck.EMA, table, ""), meta) }})
	}
	if ck.M != nil {
		if len(ck.M) != n || len(ck.V) != n {
			return fmt.Errorf("save %s: optimizer moments have %d/%d values, want %d", dir, len(ck.M), len(ck.V), n)
		}
		om := map[string]string{"format": "pt", "step": strconv.Itoa(ck.OptStep)}
		ts := append(tableTensors(ck.M, table, "m."), tableTensors(ck.V, table, "v.")...)
		files = append(files, struct {
			name  string
			write func(io.Writer) error
		}{OptimizerFile, func(w io.Writer) error { return WriteSafetensors(w, ts, om) }})
	}
	if ck.State != nil {
		sj, err := json.MarshalIndent(ck.State, "", "  ")
		if err != nil {
			return fmt.Errorf("save %s: state: %w", dir, err)
		}
		files = append(files, struct {
			name  string
			write func(io.Writer) error
		}{StateFile, func(w io.Writer) error { _, err := w.Write(append(sj, '\n')); return err }})
	}
	for _, f := range files {
		if err := writeSynced(filepath.Join(tmp, f.name), f.write); err != nil {
			return fmt.Errorf("save %s: %w", dir, err)
		}
	}
	if err := atomicfile.SyncDir(tmp); err != nil {
		return fmt.Errorf("save %s: %w", dir, err)
	}
	aside := ""
	if _, err := os.Lstat(dir); err == nil {
		aside = filepath.Join(parent, "."+base+".old-"+filepath.Base(tmp)[len(base)+6:])
		if err := os.Rename(dir, aside); err != nil {
			return fmt.Errorf("save %s: move old checkpoint aside: %w", dir, err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if aside != "" {
			os.Rename(aside, dir) // put the old one back
		}
		return fmt.Errorf("save %s: %w", dir, err)
	}
	if err := atomicfile.SyncDir(parent); err != nil {
		return fmt.Errorf("save %s: %w", dir, err)
	}
	if aside != "" {
		os.RemoveAll(aside)
	}
	return nil
}

func writeSynced(path string, write func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// ReadConfig reads and checks a checkpoint directory's config.json. A
// format_version newer than this package is refused.
func ReadConfig(dir string) (Config, error) {
	path := filepath.Join(dir, ConfigFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	var c Config
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&c); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// LoadCheckpoint reads a checkpoint directory: config.json and
// model.safetensors, and, when present, ema.safetensors,
// optimizer.safetensors and state.json. Errors name the file and tensor.
func LoadCheckpoint(dir string) (*Checkpoint, error) {
	cfg, err := ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	st, err := ReadSafetensors(filepath.Join(dir, ModelFile))
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	if err := fitsFile(cfg, st); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	table := ParamTable(cfg)
	for _, t := range table { // every tensor there, before the buffer is allocated
		if err := st.checkF32(t.Name, t.Shape); err != nil {
			return nil, err
		}
	}
	n := NumParams(cfg)
	ck := &Checkpoint{Config: cfg}
	ck.Params = make([]float32, n)
	if err := st.readInto(ck.Params, table, ""); err != nil {
		return nil, err
	}
	if st, err := ReadSafetensors(filepath.Join(dir, EMAFile)); err == nil {
		ck.EMA = make([]float32, n)
		if err := st.readInto(ck.EMA, table, ""); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	if st, err := ReadSafetensors(filepath.Join(dir, OptimizerFile)); err == nil {
		mv := make([]float32, 2*n)
		both := append(prefixed(table, "m.", 0), prefixed(table, "v.", n)...)
		if err := st.readInto(mv, both, ""); err != nil {
			return nil, err
		}
		ck.M, ck.V = mv[:n], mv[n:]
		step, err := strconv.Atoi(st.Meta["step"])
		if err != nil || step < 0 {
			return nil, fmt.Errorf("%s: __metadata__ step %q is not a step count", st.Path, st.Meta["step"])
		}
		ck.OptStep = step
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	path := filepath.Join(dir, StateFile)
	if data, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(data, &ck.State); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	return ck, nil
}

// fitsFile refuses a config whose dimensions could not fit the model file,
// before the parameter table is built: a corrupt or hostile config.json
// (d_model 1e9, n_layers 1e12) is an error, not an out-of-memory crash.
// Products are taken in float64, so none overflows.
func fitsFile(cfg Config, st *Safetensors) error {
	have := float64(len(st.data) / 4) // float32 values in the file
	V, C, L := float64(cfg.VocabSize), float64(cfg.DModel), float64(cfg.NLayers)
	if V*C > have || 12*C*C > have || L > float64(len(st.entries)) {
		return fmt.Errorf("%s (vocab_size %d, d_model %d, n_layers %d) describes more parameters than the %d values of %s",
			ConfigFile, cfg.VocabSize, cfg.DModel, cfg.NLayers, len(st.data)/4, st.Path)
	}
	return nil
}

func prefixed(table []Tensor, prefix string, shift int) []Tensor {
	out := make([]Tensor, len(table))
	for i, t := range table {
		t.Name = prefix + t.Name
		t.Offset += shift
		out[i] = t
	}
	return out
}

// CheckpointDir is where a training run directory keeps its latest
// checkpoint (RUNDIR/checkpoint).
const CheckpointDir = "checkpoint"

// CheckpointPath resolves path to a checkpoint directory: path itself when
// it holds config.json, else the checkpoint of the run directory path.
func CheckpointPath(path string) string {
	if _, err := os.Stat(filepath.Join(path, ConfigFile)); err != nil {
		if _, err2 := os.Stat(filepath.Join(path, CheckpointDir, ConfigFile)); err2 == nil {
			return filepath.Join(path, CheckpointDir)
		}
	}
	return path
}

// LoadModel is the one way a checkpoint becomes a model: it reads the
// checkpoint at path (a checkpoint directory, or a run directory's latest)
// and builds its model on be, with the EMA weights when ema is set and the
// checkpoint has them (emaUsed says whether it did), else the trained
// weights. ck holds all the checkpoint read.
func LoadModel(be compute.Backend, path string, ema bool) (m *Model, ck *Checkpoint, emaUsed bool, err error) {
	dir := CheckpointPath(path)
	ck, err = LoadCheckpoint(dir)
	if err != nil {
		return nil, nil, false, err
	}
	m, err = New(be, ck.Config)
	if err != nil {
		return nil, nil, false, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	p := ck.Params
	if ema && ck.EMA != nil {
		p, emaUsed = ck.EMA, true
	}
	if err := m.SetParams(p); err != nil {
		m.Free()
		return nil, nil, false, err
	}
	return m, ck, emaUsed, nil
}
