package plots

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/seqdiff/seqdiff/evaluate"
	"github.com/seqdiff/seqdiff/finetune"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/train"
)

// File names Collect looks for in run directories.
const (
	PPLFile     = "ppl.json"     // seqdiff eval ppl --json
	ResultsFile = "results.json" // seqdiff finetune --task
	BenchFile   = "bench.jsonl"  // seqdiff bench sample --json (any steps, one line per sampler)
)

// PPL is a ppl.json Collect found: the report and the directory holding it.
type PPL struct {
	evaluate.Report
	Dir string
}

// Curve is a run's metrics.jsonl: train loss per step, valid loss where
// measured, against training tokens.
type Curve struct {
	Name  string
	Mode  string
	From  string       // the run a generative fine-tuning continued ("" for none)
	Train [][2]float64 // (tokens, loss)
	Valid [][2]float64
}

// Point is one model on one task: its perplexity and its downstream scores.
type Point struct {
	Model   string // directory of the model
	Mode    string
	PPL     float64
	Bound   bool
	Results *finetune.Results
}

// Runs is everything Collect found.
type Runs struct {
	PPLs    []PPL
	Results []*finetune.Results
	Points  []Point
	Curves  []Curve
	Bench   []train.SampleTiming
}

// Collect walks dirs for metrics.jsonl (with train.yaml beside it),
// ppl.json, results.json and bench.jsonl, and pairs each results.json with
// the ppl.json of its model: the nearest one in the directories above it,
// else the one whose checkpoint path is the same.
func Collect(dirs ...string) (*Runs, error) {
	r := &Runs{}
	resDir := map[*finetune.Results]string{}
	for _, root := range dirs {
		if _, err := os.Stat(root); err != nil {
			return nil, fmt.Errorf("plot: %w", err)
		}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if strings.HasPrefix(d.Name(), ".") && p != root {
					return filepath.SkipDir // partial outputs of a running study
				}
				return nil
			}
			switch d.Name() {
			case train.MetricsFile:
				c, err := ReadCurve(p)
				if err != nil {
					return err
				}
				if len(c.Train)+len(c.Valid) > 0 {
					r.Curves = append(r.Curves, c)
				}
			case PPLFile:
				rep, err := evaluate.ReadReport(p)
				if err != nil {
					return err
				}
				r.PPLs = append(r.PPLs, PPL{Report: rep, Dir: filepath.Dir(p)})
			case ResultsFile:
				res, err := finetune.ReadResults(p)
				if err != nil {
					return err
				}
				if res.Task != "" {
					r.Results = append(r.Results, res)
					resDir[res] = filepath.Dir(p)
				}
			case BenchFile:
				rows, err := ReadBench(p)
				if err != nil {
					return err
				}
				r.Bench = append(r.Bench, rows...)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("plot: %w", err)
		}
	}
	for _, res := range r.Results {
		if pp, ok := r.pplFor(resDir[res], res.Checkpoint); ok {
			r.Points = append(r.Points, Point{Model: pp.Dir, Mode: res.Mode, PPL: pp.Perplexity, Bound: pp.Bound, Results: res})
		}
	}
	sort.SliceStable(r.Points, func(i, j int) bool { return r.Points[i].Results.Task < r.Points[j].Results.Task })
	return r, nil
}

func (r *Runs) pplFor(dir, ckpt string) (PPL, bool) {
	for d := dir; ; {
		for _, p := range r.PPLs {
			if p.Dir == d {
				return p, true
			}
		}
		up := filepath.Dir(d)
		if up == d {
			break
		}
		d = up
	}
	want := absCkpt(ckpt)
	for _, p := range r.PPLs {
		if absCkpt(p.Checkpoint) == want {
			return p, true
		}
	}
	return PPL{}, false
}

func absCkpt(p string) string {
	a, err := filepath.Abs(nn.CheckpointPath(p))
	if err != nil {
		return p
	}
	return a
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// ReadCurve reads a run's metrics.jsonl and the mode from train.yaml beside it.
func ReadCurve(path string) (Curve, error) {
	dir := filepath.Dir(path)
	c := Curve{Name: filepath.Base(dir)}
	cfg := train.Default()
	if err := cfg.ReadYAML(filepath.Join(dir, train.ConfigYAML)); err == nil {
		c.Mode = cfg.Mode
	}
	// A generative fine-tuning run continues its origin's training: its
	// tokens start where the origin's stopped.
	var off float64
	if org, err := finetune.ReadOrigin(dir); err == nil {
		var st struct {
			Tokens float64 `json:"tokens"`
		}
		if readJSON(filepath.Join(nn.CheckpointPath(org.From), "state.json"), &st) == nil {
			off = st.Tokens
			c.From = filepath.Base(org.From)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return c, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		var m train.Metric
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return c, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if m.Loss != nil {
			c.Train = append(c.Train, [2]float64{off + float64(m.Tokens), *m.Loss})
		}
		if m.ValidLoss != nil {
			c.Valid = append(c.Valid, [2]float64{off + float64(m.Tokens), *m.ValidLoss})
		}
	}
	return c, sc.Err()
}

// ReadBench reads a bench.jsonl: one train.SampleTiming a line.
func ReadBench(path string) ([]train.SampleTiming, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rows []train.SampleTiming
	for i, l := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		var r train.SampleTiming
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
		rows = append(rows, r)
	}
	return rows, nil
}
