package experiment

import (
	"fmt"
	"os"
	"strings"

	"github.com/seqdiff/seqdiff/evaluate"
	"github.com/seqdiff/seqdiff/finetune"
	"github.com/seqdiff/seqdiff/internal/strictyaml"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/train"
)

// Config is a study YAML (configs/study-*.yaml). Relative paths are
// relative to the working directory. Unknown keys are errors.
type Config struct {
	Name    string `yaml:"name"`
	Threads int    `yaml:"threads"`
	Prep    struct {
		Dir         string   `yaml:"dir"`   // an existing prep directory to use instead of prepping
		Fasta       string   `yaml:"fasta"` // "" = the embedded human chr22 slice
		SeqLen      int      `yaml:"seq_len"`
		Stride      int      `yaml:"stride"`
		MaxN        float64  `yaml:"max_n"`
		Block       int      `yaml:"block"`
		ValidChroms []string `yaml:"valid_chroms"`
		TestChroms  []string `yaml:"test_chroms"`
	} `yaml:"prep"`
	// Pretrain is the MLM pre-training run (train.Config keys; data and out
	// are set by the study).
	Pretrain train.Config `yaml:"pretrain"`
	// Finetune is the generative fine-tuning of the pre-trained backbone,
	// once per mode (train.Config keys; mode, data, out and the model shape
	// are set by the study).
	Finetune struct {
		Modes        []string `yaml:"modes"`
		train.Config `yaml:",inline"`
	} `yaml:"finetune"`
	// Models, when given, are the study's models: existing checkpoints
	// (or run directories) scored for perplexity, on the tasks and for
	// sampling speed, instead of the pretrain, finetune and scratch stages.
	Models []Model `yaml:"models"`
	// FromScratch also pre-trains each of Finetune.Modes from a random
	// initialisation with the Pretrain settings (model "<mode>-scratch").
	FromScratch bool `yaml:"from_scratch"`
	PPL         struct {
		Split   string `yaml:"split"`
		Samples int    `yaml:"samples"`
		MaxRows int    `yaml:"max_rows"`
		Batch   int    `yaml:"batch"`
	} `yaml:"ppl"`
	Tasks      []Task `yaml:"tasks"`
	Downstream struct {
		Models      []string  `yaml:"models"` // which models (default: every generative one)
		Seeds       []uint64  `yaml:"seeds"`
		Batch       int       `yaml:"batch"`
		LR          float64   `yaml:"lr"`    // one learning rate (instead of the grid lrs)
		LRs         []float64 `yaml:"lrs"`   // the learning rates searched per seed on valid (default finetune.DefaultLRs)
		Heads       []string  `yaml:"heads"` // the heads searched per seed on valid (default finetune.DefaultHeads on fixed-length tasks)
		HeadLR      float64   `yaml:"head_lr"`
		Warmup      int       `yaml:"warmup"`
		WeightDecay float64   `yaml:"weight_decay"`
		Epochs      int       `yaml:"epochs"`
		MaxSteps    int       `yaml:"max_steps"`
		EvalEvery   int       `yaml:"eval_every"`
		Patience    int       `yaml:"patience"`
		MinEpochs   int       `yaml:"min_epochs"`
		MaxLen      int       `yaml:"max_len"`
		MaxTrain    int       `yaml:"max_train"` // train rows per seed (stratified sample; 0: all)
		MaxTest     int       `yaml:"max_test"`  // test rows scored (stratified sample, the same for all; 0: all)
		RC          bool      `yaml:"rc"`
	} `yaml:"downstream"`
	// Baseline is the network-free rows of the tables: an order-k Markov
	// model's test perplexity (orders tried, the best on valid kept;
	// Dirichlet smoothing tuned on valid), a logistic regression on k-mer
	// spectra per task (word lengths tried, the best on valid kept per
	// seed) and one on the one-hot base at each position (OneHot). Empty
	// lists skip the k-mer rows.
	Baseline struct {
		PPLOrders []int `yaml:"ppl_orders"`
		TaskKs    []int `yaml:"task_ks"`
		OneHot    bool  `yaml:"onehot"`
		// Bidirectional is M of MDLM's floor (train.KmerFloor), scored beside
		// every MDLM model with its draws and rows: unset means
		// DefaultBidirectional, 0 skips it. A pointer so that a config
		// without the key stamps its study directory as before the key
		// existed.
		Bidirectional *int `yaml:"bidirectional,omitempty"`
	} `yaml:"baseline"`
	Bench struct {
		N     int   `yaml:"n"`
		Len   int   `yaml:"len"`
		Steps []int `yaml:"steps"` // ddpm's T and topk_confidence's calls
		// TokensPerStep: first_hitting's k values (default 1, exact).
		TokensPerStep []int `yaml:"tokens_per_step"`
	} `yaml:"bench"`
}

// DefaultBidirectional is M of the study's bidirectional k-mer floor when
// the config does not set baseline.bidirectional.
const DefaultBidirectional = 5

// BidirOrder is M of the bidirectional k-mer floor, 0 for none.
func (c Config) BidirOrder() int {
	if c.Baseline.Bidirectional == nil {
		return DefaultBidirectional
	}
	return *c.Baseline.Bidirectional
}

// Model is a given checkpoint: Objective (mdlm, ar, mlm) must be the
// checkpoint's mode; it is there so the config says what it compares.
type Model struct {
	Name      string `yaml:"name"`
	Objective string `yaml:"objective"`
	Ckpt      string `yaml:"ckpt"`
}

// Task is one downstream task: a file or directory (finetune.Load), or
// builtin human_or_worm.
type Task struct {
	Name     string `yaml:"name"`
	Builtin  string `yaml:"builtin"`
	Path     string `yaml:"path"`
	Test     string `yaml:"test"`
	SeqCol   string `yaml:"seq_col"`
	LabelCol string `yaml:"label_col"`
	Genome   string `yaml:"genome"`
	PerClass int    `yaml:"per_class"`
	Len      int    `yaml:"len"`
}

// Default is the configuration a study YAML overlays.
func Default() Config {
	var c Config
	c.Prep.SeqLen = 1024
	c.Pretrain = train.Default()
	c.Pretrain.Mode = nn.ModeMLM
	c.Finetune.Modes = []string{nn.ModeMDLM, nn.ModeAR}
	c.Finetune.Config = train.Default()
	c.Finetune.LR, c.Finetune.Warmup = 1e-4, 50
	c.PPL.Split, c.PPL.Samples, c.PPL.Batch = "test", 4, 8
	c.Downstream.Seeds = []uint64{1, 2, 3}
	c.Downstream.RC = true
	c.Bench.N, c.Bench.Steps = 4, []int{8, 32, 128}
	c.Baseline.PPLOrders, c.Baseline.TaskKs, c.Baseline.OneHot = []int{0, 2, 4, 6, 8}, []int{1, 2, 3, 4, 5, 6}, true
	return c
}

// ReadConfig reads a study YAML over Default and checks it: unknown keys,
// modes, model names and checkpoints, baseline orders and tasks. Errors
// name the file.
func ReadConfig(path string) (Config, error) {
	c := Default()
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("study config: %w", err)
	}
	if err := strictyaml.Decode(path, b, &c); err != nil {
		return c, fmt.Errorf("study config %w", err)
	}
	if c.Pretrain.Mode == "" {
		c.Pretrain.Mode = nn.ModeMLM
	}
	for _, m := range c.Finetune.Modes {
		if m != nn.ModeMDLM && m != nn.ModeAR {
			return c, fmt.Errorf("study config %s: finetune mode %q: want mdlm or ar", path, m)
		}
	}
	names := map[string]bool{}
	for i, m := range c.Models {
		switch {
		case m.Name == "" || m.Ckpt == "":
			return c, fmt.Errorf("study config %s: model %d needs a name and a ckpt", path, i+1)
		case names[m.Name] || m.Name == evaluate.KmerMode || m.Name == evaluate.KmerBidirMode:
			return c, fmt.Errorf("study config %s: model name %q used twice or reserved", path, m.Name)
		case strings.ContainsAny(m.Name, `/\`) || strings.HasPrefix(m.Name, "."):
			return c, fmt.Errorf("study config %s: model name %q: no slashes, no leading dot", path, m.Name)
		}
		names[m.Name] = true
		mc, err := nn.ReadConfig(nn.CheckpointPath(m.Ckpt))
		if err != nil {
			return c, fmt.Errorf("study config %s: model %s: %w", path, m.Name, err)
		}
		if m.Objective != "" && m.Objective != mc.Mode {
			return c, fmt.Errorf("study config %s: model %s: objective %q, but %s was trained with %q", path, m.Name, m.Objective, m.Ckpt, mc.Mode)
		}
	}
	for _, k := range c.Baseline.PPLOrders {
		if k < 0 || k > evaluate.MaxKmerOrder {
			return c, fmt.Errorf("study config %s: baseline ppl order %d outside 0..%d", path, k, evaluate.MaxKmerOrder)
		}
	}
	if m := c.BidirOrder(); m < 0 || m > evaluate.MaxBidirOrder {
		return c, fmt.Errorf("study config %s: baseline bidirectional %d outside 0..%d (0: no floor)", path, m, evaluate.MaxBidirOrder)
	}
	for _, k := range c.Baseline.TaskKs {
		if k < 1 || k > 8 {
			return c, fmt.Errorf("study config %s: baseline task k %d outside 1..8", path, k)
		}
	}
	d := &c.Downstream
	if d.LR != 0 && len(d.LRs) > 0 {
		return c, fmt.Errorf("study config %s: downstream: lr fixes one learning rate, lrs lists a grid: give one of them", path)
	}
	lrs := d.LRs
	if d.LR != 0 {
		lrs = []float64{d.LR}
	}
	if err := finetune.CheckGrid(d.Heads, lrs); err != nil {
		return c, fmt.Errorf("study config %s: downstream: %w", path, err)
	}
	seen := map[string]bool{}
	for i, t := range c.Tasks {
		switch {
		case t.Name == "":
			return c, fmt.Errorf("study config %s: task %d has no name", path, i+1)
		case seen[t.Name]:
			return c, fmt.Errorf("study config %s: task %q twice", path, t.Name)
		case t.Builtin == "" && t.Path == "":
			return c, fmt.Errorf("study config %s: task %q needs a path or builtin: human_or_worm", path, t.Name)
		case t.Builtin != "" && t.Builtin != "human_or_worm":
			return c, fmt.Errorf("study config %s: task %q: unknown builtin %q (want human_or_worm)", path, t.Name, t.Builtin)
		}
		seen[t.Name] = true
	}
	return c, nil
}
