package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/seqdiff/seqdiff/internal/strictyaml"
	"github.com/seqdiff/seqdiff/mdlm"
	"github.com/seqdiff/seqdiff/nn"
)

// Config is the resolved configuration of a training run. The yaml keys
// are those of a --config file and of the run directory's train.yaml.
type Config struct {
	Mode string `yaml:"mode" json:"mode"`
	Data string `yaml:"data" json:"data"`
	Out  string `yaml:"out" json:"out"`

	// Model shape: a preset, with dimensions overridden when non-zero.
	// SeqLen 0 takes the prep directory's row length.
	Preset  string `yaml:"preset" json:"preset"`
	DModel  int    `yaml:"d_model" json:"d_model"`
	NLayers int    `yaml:"n_layers" json:"n_layers"`
	NHeads  int    `yaml:"n_heads" json:"n_heads"`
	SeqLen  int    `yaml:"seq_len" json:"seq_len"`
	// TimeConditioning is MDLM's time_conditioning (DiT adaLN on t); mdlm only.
	TimeConditioning bool `yaml:"time_conditioning,omitempty" json:"time_conditioning,omitempty"`

	Batch int `yaml:"batch" json:"batch"`
	// Accum is gradient accumulation: an optimizer step trains on Accum
	// micro-batches of Batch rows (Accum x Batch rows, the memory of Batch).
	Accum int `yaml:"accum" json:"accum"`
	// TSampling is how an mdlm step draws its rows' times t
	// (mdlm.TimeSampling): stratified (the default, the MDLM reference's),
	// systematic (seqdiff's before it, to compare with older runs) or iid.
	TSampling   string  `yaml:"t_sampling" json:"t_sampling"`
	LR          float64 `yaml:"lr" json:"lr"`
	MinLRFrac   float64 `yaml:"min_lr_frac" json:"min_lr_frac"`
	Warmup      int     `yaml:"warmup" json:"warmup"`
	WeightDecay float64 `yaml:"weight_decay" json:"weight_decay"`
	ClipNorm    float64 `yaml:"clip_norm" json:"clip_norm"`
	EMA         float64 `yaml:"ema" json:"ema"`
	RC          bool    `yaml:"rc" json:"rc"`

	MaxSteps   int      `yaml:"max_steps" json:"max_steps"`
	MaxTokens  int64    `yaml:"max_tokens" json:"max_tokens"`
	TimeBudget Duration `yaml:"time_budget" json:"time_budget"`
	// DecayFrac is the share of a budget-only run's time budget (no
	// MaxSteps, no MaxTokens) spent in the final linear decay of the
	// warmup-stable-decay schedule (WSD); other runs ignore it.
	DecayFrac float64 `yaml:"decay_frac" json:"decay_frac"`

	EvalEvery   int    `yaml:"eval_every" json:"eval_every"`
	EvalRows    int    `yaml:"eval_rows" json:"eval_rows"`
	EvalSamples int    `yaml:"eval_samples" json:"eval_samples"` // MDLM NELBO draws K
	CkptEvery   int    `yaml:"ckpt_every" json:"ckpt_every"`
	LogEvery    int    `yaml:"log_every" json:"log_every"`
	Seed        uint64 `yaml:"seed" json:"seed"`
	Threads     int    `yaml:"threads" json:"threads"`
	MaxBadSteps int    `yaml:"max_bad_steps" json:"max_bad_steps"`
}

// Duration is a time.Duration written as a Go duration string ("90m").
type Duration time.Duration

// String is the Go duration form ("" for zero).
func (d Duration) String() string {
	if d == 0 {
		return ""
	}
	return time.Duration(d).String()
}

// MarshalYAML writes the Go duration form.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = v
	return nil
}

// MarshalJSON writes the Go duration form.
func (d Duration) MarshalJSON() ([]byte, error) { return []byte(`"` + d.String() + `"`), nil }

// ParseDuration reads a Go duration ("90m", "1h30m"); "" and "0" are zero.
func ParseDuration(s string) (Duration, error) {
	if s == "" || s == "0" {
		return 0, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("time budget %q: want a Go duration such as 90m", s)
	}
	return Duration(v), nil
}

// Default is the configuration a run starts from before a config file and
// flags: dna-small, batch 8 (no accumulation), stratified t, lr 3e-4 after a 100-step linear warm-up, cosine
// decay to 10% of lr (a budget-only run: constant, then a linear decay over
// the last 20% of the budget), clipping at 1, EMA 0.9999, RC augmentation,
// valid scored on 64 rows (MDLM: K = 2) and a checkpoint every 500 steps, a
// stop after 10 non-finite steps in a row.
func Default() Config {
	return Config{Mode: nn.ModeMDLM, Preset: "dna-small", Batch: 8, Accum: 1, TSampling: string(mdlm.Stratified), LR: 3e-4, MinLRFrac: 0.1, Warmup: 100,
		ClipNorm: 1, EMA: 0.9999, RC: true, EvalEvery: 500, EvalRows: 64, EvalSamples: 2, CkptEvery: 500,
		LogEvery: 10, MaxBadSteps: 10, DecayFrac: 0.2}
}

// BudgetOnly reports whether the run is stopped by its time budget alone
// (no MaxSteps, no MaxTokens): its learning rate then follows WSD, with
// the decay planned from the measured speed once (1-DecayFrac) of the
// budget is spent.
func (c Config) BudgetOnly() bool { return c.TimeBudget > 0 && c.MaxSteps == 0 && c.MaxTokens == 0 }

// ReadYAML overlays the YAML file path on c. Unknown or repeated keys,
// wrong types and a second document are errors naming the file and line.
func (c *Config) ReadYAML(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if err := strictyaml.Decode(path, data, c); err != nil {
		return fmt.Errorf("config %w", err)
	}
	return nil
}

// ReadRunConfig is the configuration of the run directory dir: its
// train.yaml over Default. A train.yaml written before t_sampling existed
// reads as systematic, the scheme that run was trained with, so that its
// resume continues it.
func ReadRunConfig(dir string) (Config, error) {
	c := Default()
	c.TSampling = ""
	if err := c.ReadYAML(filepath.Join(dir, ConfigYAML)); err != nil {
		return c, err
	}
	if c.TSampling == "" {
		c.TSampling = string(mdlm.Systematic)
	}
	return c, nil
}

// YAML is c as a YAML document (train.yaml).
func (c Config) YAML() ([]byte, error) { return yaml.Marshal(c) }

// Validate checks the values that do not depend on the data.
func (c Config) Validate() error {
	switch c.Mode {
	case nn.ModeMDLM, nn.ModeAR, nn.ModeMLM:
	default:
		return fmt.Errorf("mode %q: want mlm, mdlm or ar", c.Mode)
	}
	switch {
	case c.Data == "":
		return errors.New("no data: pass --data PREPDIR")
	case c.Out == "":
		return errors.New("no run directory: pass --out RUNDIR")
	case c.Batch < 1:
		return fmt.Errorf("batch %d: must be >= 1", c.Batch)
	case c.Accum < 1:
		return fmt.Errorf("accum %d: must be >= 1 (micro-batches per optimizer step)", c.Accum)
	case !slices.Contains(mdlm.TimeSamplings, mdlm.TimeSampling(c.TSampling)):
		return fmt.Errorf("t_sampling %q: want stratified, systematic or iid", c.TSampling)
	case !(c.LR > 0):
		return fmt.Errorf("lr %v: must be positive", c.LR)
	case c.MinLRFrac < 0 || c.MinLRFrac > 1:
		return fmt.Errorf("min_lr_frac %v: must lie in [0,1]", c.MinLRFrac)
	case c.Warmup < 0 || c.MaxSteps < 0 || c.MaxTokens < 0 || c.TimeBudget < 0:
		return errors.New("warmup, max_steps, max_tokens and time_budget must not be negative")
	case c.EMA < 0 || c.EMA >= 1:
		return fmt.Errorf("ema %v: must lie in [0,1) (0 = off)", c.EMA)
	case c.ClipNorm < 0 || c.WeightDecay < 0:
		return errors.New("clip_norm and weight_decay must not be negative")
	case c.EvalEvery < 0 || c.CkptEvery < 0 || c.LogEvery < 0 || c.EvalRows < 0:
		return errors.New("eval_every, ckpt_every, log_every and eval_rows must not be negative")
	case c.EvalSamples < 1:
		return fmt.Errorf("eval_samples %d: must be >= 1", c.EvalSamples)
	case c.MaxBadSteps < 1:
		return fmt.Errorf("max_bad_steps %d: must be >= 1", c.MaxBadSteps)
	case !(c.DecayFrac > 0 && c.DecayFrac < 1):
		return fmt.Errorf("decay_frac %v: must lie in (0,1) (the share of a time budget spent decaying the learning rate)", c.DecayFrac)
	case c.MaxSteps == 0 && c.MaxTokens == 0 && c.TimeBudget == 0:
		return errors.New("no stopping rule: pass --time-budget, --max-steps or --max-tokens (or several: the first reached stops)")
	}
	return nil
}

// ModelConfig is the backbone configuration for rows of seqLen tokens.
func (c Config) ModelConfig(seqLen int) (nn.Config, error) {
	preset := c.Preset
	if preset == "" || preset == "custom" {
		preset = "dna-small"
	}
	mc, err := nn.Preset(preset, c.Mode)
	if err != nil {
		return mc, err
	}
	custom := false
	for _, f := range []struct{ v, dst *int }{{&c.DModel, &mc.DModel}, {&c.NLayers, &mc.NLayers}, {&c.NHeads, &mc.NHeads}} {
		if *f.v > 0 {
			*f.dst, custom = *f.v, true
		}
	}
	mc.TimeConditioning = c.TimeConditioning
	mc.SeqLen = seqLen
	if c.SeqLen > 0 {
		mc.SeqLen = c.SeqLen
	}
	if mc.SeqLen < seqLen {
		return mc, fmt.Errorf("seq_len %d is shorter than the data's rows of %d tokens", mc.SeqLen, seqLen)
	}
	if mc.SeqLen != 1024 {
		custom = true
	}
	if custom {
		mc.Preset = ""
	}
	return mc, mc.Validate()
}

// StepRows is the rows one optimizer step trains on: Accum x Batch.
func (c Config) StepRows() int { return c.Accum * c.Batch }

// Horizon is the number of steps the learning-rate schedule spans: MaxSteps,
// or the steps MaxTokens needs at tokensPerStep (the smaller when both); 1
// when neither is set (a budget-only run has no horizon known in advance:
// see BudgetOnly).
func (c Config) Horizon(tokensPerStep int) int {
	h := c.MaxSteps
	if c.MaxTokens > 0 {
		n := int((c.MaxTokens + int64(tokensPerStep) - 1) / int64(tokensPerStep))
		if h == 0 || n < h {
			h = n
		}
	}
	return max(h, 1)
}
