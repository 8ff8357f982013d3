package nn

import (
	"fmt"

	"github.com/seqdiff/seqdiff/compute"
)

// Tensor is one row of the parameter table: a named tensor at Offset in
// the model's single parameter buffer (gradients, AdamW moments and the EMA
// use the same layout).
type Tensor struct {
	Name   string
	Shape  []int
	Offset int
	Size   int
	// Decay is true for the matrices that take weight decay (qkv, out, fc1,
	// fc2, head weights). Biases, LayerNorm parameters and the token
	// embedding are not decayed, as in GPT-2/nanoGPT practice: decaying a
	// LayerNorm gain or an embedding row pulls it toward a degenerate value
	// rather than regularising a linear map.
	Decay bool
}

// TimeFreqDim is the size of the sinusoidal time embedding that feeds
// time_embed (DiT's and MDLM's frequency_embedding_size).
const TimeFreqDim = 256

// ParamTable lists the parameters of cfg in buffer order, with the exact
// tensor names and nn.Linear (out x in) shapes of the checkpoint contract.
//
// With TimeConditioning (MDLM's DiT adaLN), tensors follow the backbone's,
// named after MDLM's DIT: time_embed.mlp.0 (C x 256) and time_embed.mlp.2
// (C x C) map the sinusoidal embedding of t to the conditioning vector
// c = silu(mlp(emb)); blocks.i.adaLN_modulation (6C x C) gives each block's
// shift, scale and gate for attention and MLP from c; and
// final_ln.adaLN_modulation (2C x C) the shift and scale of final_ln's
// output. Appended last, they leave the backbone's initial values as they
// are without conditioning.
func ParamTable(cfg Config) []Tensor {
	V, C := cfg.VocabSize, cfg.DModel
	var t []Tensor
	off := 0
	add := func(name string, decay bool, shape ...int) {
		n := 1
		for _, s := range shape {
			n *= s
		}
		t = append(t, Tensor{Name: name, Shape: shape, Offset: off, Size: n, Decay: decay})
		off += n
	}
	add("embed.weight", false, V, C)
	for i := 0; i < cfg.NLayers; i++ {
		p := fmt.Sprintf("blocks.%d.", i)
		add(p+"ln1.weight", false, C)
		add(p+"ln1.bias", false, C)
		add(p+"attn.qkv.weight", true, 3*C, C)
		add(p+"attn.out.weight", true, C, C)
		add(p+"ln2.weight", false, C)
		add(p+"ln2.bias", false, C)
		add(p+"mlp.fc1.weight", true, 4*C, C)
		add(p+"mlp.fc1.bias", false, 4*C)
		add(p+"mlp.fc2.weight", true, C, 4*C)
		add(p+"mlp.fc2.bias", false, C)
	}
	add("final_ln.weight", false, C)
	add("final_ln.bias", false, C)
	add("head.weight", true, V, C)
	add("head.bias", false, V)
	if cfg.TimeConditioning {
		add("time_embed.mlp.0.weight", true, C, TimeFreqDim)
		add("time_embed.mlp.0.bias", false, C)
		add("time_embed.mlp.2.weight", true, C, C)
		add("time_embed.mlp.2.bias", false, C)
		for i := 0; i < cfg.NLayers; i++ {
			p := fmt.Sprintf("blocks.%d.", i)
			add(p+"adaLN_modulation.weight", true, 6*C, C)
			add(p+"adaLN_modulation.bias", false, 6*C)
		}
		add("final_ln.adaLN_modulation.weight", true, 2*C, C)
		add("final_ln.adaLN_modulation.bias", false, 2*C)
	}
	return t
}

// NumParams is the total number of parameters of cfg.
func NumParams(cfg Config) int {
	t := ParamTable(cfg)
	last := t[len(t)-1]
	return last.Offset + last.Size
}

// blockParams are the views of one block's tensors into a buffer.
type blockParams struct {
	ln1w, ln1b, qkvw, outw, ln2w, ln2b, fc1w, fc1b, fc2w, fc2b compute.F32
	adaw, adab                                                 compute.F32 // (6C,C), (6C); time conditioning only
}

// paramViews are named views into a buffer laid out by ParamTable: the
// parameters themselves, or their gradients.
type paramViews struct {
	embed      compute.F32
	blocks     []blockParams
	lnfw, lnfb compute.F32
	headw      compute.F32
	headb      compute.F32
	// time conditioning only (N == 0 otherwise)
	te1w, te1b, te2w, te2b compute.F32 // (C,256), (C), (C,C), (C)
	finw, finb             compute.F32 // (2C,C), (2C)
}

func makeViews(buf compute.F32, table []Tensor, nLayers int) paramViews {
	byName := make(map[string]compute.F32, len(table))
	for _, t := range table {
		byName[t.Name] = buf.Slice(t.Offset, t.Size)
	}
	v := paramViews{
		embed: byName["embed.weight"],
		lnfw:  byName["final_ln.weight"], lnfb: byName["final_ln.bias"],
		headw: byName["head.weight"], headb: byName["head.bias"],
		blocks: make([]blockParams, nLayers),
		te1w:   byName["time_embed.mlp.0.weight"], te1b: byName["time_embed.mlp.0.bias"],
		te2w: byName["time_embed.mlp.2.weight"], te2b: byName["time_embed.mlp.2.bias"],
		finw: byName["final_ln.adaLN_modulation.weight"], finb: byName["final_ln.adaLN_modulation.bias"],
	}
	for i := range v.blocks {
		p := fmt.Sprintf("blocks.%d.", i)
		v.blocks[i] = blockParams{
			ln1w: byName[p+"ln1.weight"], ln1b: byName[p+"ln1.bias"],
			qkvw: byName[p+"attn.qkv.weight"], outw: byName[p+"attn.out.weight"],
			ln2w: byName[p+"ln2.weight"], ln2b: byName[p+"ln2.bias"],
			fc1w: byName[p+"mlp.fc1.weight"], fc1b: byName[p+"mlp.fc1.bias"],
			fc2w: byName[p+"mlp.fc2.weight"], fc2b: byName[p+"mlp.fc2.bias"],
			adaw: byName[p+"adaLN_modulation.weight"], adab: byName[p+"adaLN_modulation.bias"],
		}
	}
	return v
}
