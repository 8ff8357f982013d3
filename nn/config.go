package nn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/seqdiff/seqdiff/internal/strictyaml"
	"github.com/seqdiff/seqdiff/vocab"
)

// FormatVersion is the checkpoint format this package writes. A config.json
// with a larger format_version is refused rather than misread.
const FormatVersion = 1

// Training modes. The mode decides the attention pattern: ar is causal,
// the others are bidirectional.
const (
	ModeMDLM = "mdlm"
	ModeAR   = "ar"
	ModeMLM  = "mlm"
)

// Config is the shape of the backbone and what crosses to users in
// config.json. The same keys are accepted in a YAML or JSON config file.
type Config struct {
	FormatVersion int    `json:"format_version" yaml:"format_version"`
	VocabSize     int    `json:"vocab_size" yaml:"vocab_size"`
	DModel        int    `json:"d_model" yaml:"d_model"`
	NLayers       int    `json:"n_layers" yaml:"n_layers"`
	NHeads        int    `json:"n_heads" yaml:"n_heads"`
	SeqLen        int    `json:"seq_len" yaml:"seq_len"`
	Mode          string `json:"mode" yaml:"mode"`
	MaskID        int    `json:"mask_id" yaml:"mask_id"`
	PadID         int    `json:"pad_id" yaml:"pad_id"`
	Tokenizer     string `json:"tokenizer" yaml:"tokenizer"`
	Preset        string `json:"preset,omitempty" yaml:"preset,omitempty"`
	// TimeConditioning is MDLM's time_conditioning: DiT adaLN blocks
	// modulated by an embedding of the diffusion time t (see ParamTable).
	// Off by default, as in the MDLM DNA and OWT runs; absent from the
	// config.json of a model without it, so older checkpoints read unchanged.
	TimeConditioning bool           `json:"time_conditioning,omitempty" yaml:"time_conditioning,omitempty"`
	Training         map[string]any `json:"training,omitempty" yaml:"training,omitempty"`
}

// Vocab is the model's vocabulary as the objectives and samplers take it.
func (c Config) Vocab() vocab.Vocab { return vocab.For(c.Tokenizer, c.VocabSize, c.MaskID, c.PadID) }

// Causal reports whether the mode trains with causal attention.
func (c Config) Causal() bool { return c.Mode == ModeAR }

// HeadDim is d_model / n_heads.
func (c Config) HeadDim() int { return c.DModel / c.NHeads }

// Validate checks that the shape is usable.
func (c Config) Validate() error {
	switch {
	case c.VocabSize < 2:
		return fmt.Errorf("vocab_size %d: need at least 2", c.VocabSize)
	case c.DModel < 1:
		return fmt.Errorf("d_model %d: must be positive", c.DModel)
	case c.NLayers < 1:
		return fmt.Errorf("n_layers %d: must be positive", c.NLayers)
	case c.NHeads < 1:
		return fmt.Errorf("n_heads %d: must be positive", c.NHeads)
	case c.DModel%c.NHeads != 0:
		return fmt.Errorf("d_model %d is not a multiple of n_heads %d", c.DModel, c.NHeads)
	case c.HeadDim()%2 != 0:
		return fmt.Errorf("head dim %d (d_model/n_heads) must be even for rotary embedding", c.HeadDim())
	case c.SeqLen < 1:
		return fmt.Errorf("seq_len %d: must be positive", c.SeqLen)
	case c.MaskID < 0 || c.MaskID >= c.VocabSize:
		return fmt.Errorf("mask_id %d outside vocabulary [0,%d)", c.MaskID, c.VocabSize)
	case c.PadID < 0 || c.PadID >= c.VocabSize:
		return fmt.Errorf("pad_id %d outside vocabulary [0,%d)", c.PadID, c.VocabSize)
	case c.FormatVersion > FormatVersion:
		return fmt.Errorf("format_version %d is newer than this seqdiff reads (%d); upgrade seqdiff", c.FormatVersion, FormatVersion)
	case c.FormatVersion < 1:
		return fmt.Errorf("format_version %d: must be >= 1", c.FormatVersion)
	}
	switch c.Mode {
	case ModeMDLM, ModeAR, ModeMLM:
	default:
		return fmt.Errorf("mode %q: want mdlm, ar or mlm", c.Mode)
	}
	if c.TimeConditioning && c.Mode != ModeMDLM {
		return fmt.Errorf("time_conditioning: only an mdlm model is conditioned on the diffusion time, not %s", c.Mode)
	}
	return nil
}

// presets by name. dna-small is the benchmark configuration of docs/design.md.
var presets = map[string]Config{
	"dna-small": {VocabSize: vocab.DNASize, DModel: 128, NLayers: 4, NHeads: 4, SeqLen: 1024},
	"dna-base":  {VocabSize: vocab.DNASize, DModel: 256, NLayers: 8, NHeads: 8, SeqLen: 1024},
}

// PresetNames lists the preset names, sorted.
func PresetNames() []string {
	names := make([]string, 0, len(presets))
	for k := range presets {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Preset returns the named configuration with the DNA vocabulary ids and
// the given mode filled in.
func Preset(name, mode string) (Config, error) {
	p, ok := presets[name]
	if !ok {
		return Config{}, fmt.Errorf("unknown preset %q (have %s)", name, strings.Join(PresetNames(), ", "))
	}
	p.Preset = name
	p.FormatVersion = FormatVersion
	p.Mode = mode
	p.MaskID, p.PadID = vocab.Mask, vocab.Pad
	p.Tokenizer = vocab.DNATokenizer
	return p, p.Validate()
}

// DefaultConfig is a DNA configuration with the given shape.
func DefaultConfig(vocabSize, d, layers, heads, seqLen int, mode string) Config {
	return Config{FormatVersion: FormatVersion, VocabSize: vocabSize, DModel: d, NLayers: layers,
		NHeads: heads, SeqLen: seqLen, Mode: mode, MaskID: vocab.Mask, PadID: vocab.Pad, Tokenizer: vocab.DNATokenizer}
}

// ReadConfigFile reads a model config from a JSON or YAML file (by
// extension: .yaml/.yml are YAML, anything else JSON). Unknown keys are
// errors, so that a typo never silently falls back to a default. Keys left
// out take the DNA defaults (mask_id 3, pad_id 4, tokenizer dna-char,
// vocab 12, format_version 1).
//
// mode fills the mode when the file does not name one.
func ReadConfigFile(path, mode string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	c := Config{FormatVersion: FormatVersion, VocabSize: vocab.DNASize, MaskID: vocab.Mask, PadID: vocab.Pad, Tokenizer: vocab.DNATokenizer}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		if err := strictyaml.Decode(path, data, &c); err != nil {
			return Config{}, fmt.Errorf("config %w", err)
		}
	default:
		if err := decodeJSONStrict(data, &c); err != nil {
			return Config{}, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if c.Mode == "" {
		c.Mode = mode
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

func decodeJSONStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}
