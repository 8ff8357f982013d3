package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/finetune"
	"github.com/seqdiff/seqdiff/internal/atomicfile"
	"github.com/seqdiff/seqdiff/internal/npy"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/vocab"
)

func init() { register(newEmbedCmd) }

type embedOptions struct {
	ckpt, fasta, task, output string
	seqCol, labelCol          string
	layer, batch              int
	pool                      string
	perBase                   bool
	model                     modelFlags
}

func newEmbedCmd() *cobra.Command {
	o := &embedOptions{}
	cmd := &cobra.Command{
		Use:   "embed",
		Short: "Write a checkpoint's hidden states of DNA sequences (.npy or .safetensors)",
		Long: `Run a checkpoint on each sequence of --fasta (one a record) or --task (a TSV or
CSV table with a header, read as finetune --task reads one: --seq-col,
--label-col; every row in file order, not split) and write the hidden states
of --layer, pooled over each sequence's positions (--pool) or, with
--per-base, at every position.

Layers are numbered as Hugging Face's hidden_states: 0 is the token
embedding, k in 1..n_layers-1 the residual stream after block k, n_layers
the final states after the final LayerNorm: what the output head and the
fine-tuning heads read. Negative values count from the end; the default,
-1, is n_layers.

--pool: mean (default) averages the positions, max takes each channel's
maximum, centre the central position (the mean of the two central ones for
an even length), last the last position. Each sequence runs alone at its
own length (sequences of one length share a forward pass of up to --batch
rows), so there is no padding and every position is a base of the sequence
(N counted as a base). A sequence longer than the checkpoint's seq_len is
an error: cut it into windows first.

--per-base writes every position: an array (n, L, d) that needs every
sequence to have the same length L; other lengths are an error (pool them
instead).

Attention is the checkpoint's own: causal for ar, so the state at a
position has seen only the bases up to it (--pool last is the one that has
seen the whole sequence); bidirectional for mlm and mdlm. The input is the
clean sequence, nothing masked; a time-conditioned mdlm model runs at
t = 0, as fine-tuning runs it. The EMA weights are used when the checkpoint
has them (--raw: the trained ones).

The output format follows the extension of -o: .npy (NumPy format 1.0,
little-endian float32 '<f4', C order, shape (n, d), or (n, L, d) with
--per-base; numpy.load reads it) or .safetensors (one F32 tensor
"embeddings" of that shape, and __metadata__ with ckpt, input, layer,
layer_name, pool, per_base, weights (ema or trained), mode, attention and
index). Row i is the i-th record or table row.
Beside it goes E.index.tsv (for E.npy or E.safetensors): a header, then
row, name (the FASTA record name; for a table FILE:LINE) and length, and
label for --task. Each file is written to a temporary name and renamed
into place, the index after the array: a run that fails, bad input or a
sequence too long, writes neither, and a killed one no partial file.`,
		Example: `  seqdiff embed --ckpt runs/mdlm --fasta promoters.fa -o promoters.npy
  seqdiff embed --ckpt runs/ar --task nontata.tsv --pool last -o nontata.safetensors
  seqdiff embed --ckpt runs/mlm --fasta windows.fa --per-base --layer 2 -o windows.npy`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.OutOrStdout(), cmd.Flags().Changed("pool"))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.ckpt, "ckpt", "", "checkpoint or run directory")
	f.StringVar(&o.fasta, "fasta", "", "DNA FASTA (plain or gzip): one sequence a record")
	f.StringVar(&o.task, "task", "", "TSV/CSV table with a header: one sequence a row, with its label")
	f.StringVar(&o.seqCol, "seq-col", "seq", "--task: sequence column")
	f.StringVar(&o.labelCol, "label-col", "label", "--task: label column")
	f.StringVarP(&o.output, "output", "o", "", "output file: .npy or .safetensors (an .index.tsv goes beside it)")
	alias(f, "out", "output")
	f.IntVar(&o.layer, "layer", -1, "layer: 0 token embedding, k after block k, n_layers (-1) final after the final LayerNorm")
	choiceVar(cmd, &o.pool, "pool", nn.PoolMean, nn.Pools, "pooling over a sequence's positions")
	f.BoolVar(&o.perBase, "per-base", false, "write every position, shape (n, L, d): all sequences of one length")
	f.IntVar(&o.batch, "batch", 8, "sequences per forward pass")
	o.model.bind(cmd)
	required(cmd, "ckpt", "output")
	return cmd
}

// embedInput are the sequences to embed, with their names, where each
// comes from (for messages: "record NAME (sequence I)" or "line L") and,
// from a task table, labels.
type embedInput struct {
	src    string
	names  []string
	where  []string
	seqs   [][]uint8
	labels []string // nil for FASTA
}

// at is sequence i's place for a message: "FILE: record NAME (sequence
// I)" or "FILE:LINE".
func (in *embedInput) at(i int) string {
	if in.labels != nil {
		return in.src + ":" + strings.TrimPrefix(in.where[i], "line ")
	}
	return in.src + ": " + in.where[i]
}

func (o *embedOptions) read() (*embedInput, error) {
	if o.fasta != "" {
		names, seqs, err := dataprep.ReadDNASamples(o.fasta)
		if err != nil {
			return nil, err
		}
		in := &embedInput{src: o.fasta, names: names, seqs: seqs}
		for i, name := range names {
			in.where = append(in.where, fmt.Sprintf("record %s (sequence %d)", name, i+1))
		}
		return in, nil
	}
	rows, err := finetune.ReadTable(o.task, o.seqCol, o.labelCol)
	if err != nil {
		return nil, err
	}
	in := &embedInput{src: o.task, labels: []string{}}
	// A quoted label may hold a tab or a line break: the index is TSV.
	clean := strings.NewReplacer("\t", " ", "\r", " ", "\n", " ")
	for _, r := range rows {
		in.names = append(in.names, filepath.Base(r.Where))
		in.where = append(in.where, "line "+strings.TrimPrefix(r.Where, o.task+":"))
		in.seqs = append(in.seqs, r.Seq)
		in.labels = append(in.labels, clean.Replace(r.Label))
	}
	return in, nil
}

// indexPath is E.index.tsv for E.npy or E.safetensors.
func indexPath(output string) string {
	return strings.TrimSuffix(output, filepath.Ext(output)) + ".index.tsv"
}

func (o *embedOptions) run(stdout io.Writer, poolSet bool) error {
	ext := strings.ToLower(filepath.Ext(o.output))
	switch {
	case (o.fasta == "") == (o.task == ""):
		return usagef("pass one input: --fasta FILE or --task TABLE")
	case ext != ".npy" && ext != ".safetensors":
		return usagef("-o %s: unknown extension %q; want .npy (NumPy) or .safetensors", o.output, filepath.Ext(o.output))
	case o.perBase && poolSet:
		return usagef("--per-base writes every position; --pool is for one vector a sequence")
	case sameFile(indexPath(o.output), o.fasta+o.task):
		return usagef("-o %s would write its index over the input %s", o.output, o.fasta+o.task)
	}
	if err := atLeast(1, "batch", o.batch); err != nil {
		return err
	}
	in, err := o.read()
	if err != nil {
		return err
	}
	if o.perBase {
		for i, s := range in.seqs {
			if len(s) != len(in.seqs[0]) {
				return fmt.Errorf("--per-base writes one (n, L, d) array and needs sequences of one length: in %s, %s has %d bases and %s %d; pass --pool %s for a vector a sequence, or cut them to one length",
					in.src, in.where[0], len(in.seqs[0]), in.where[i], len(s), strings.Join(nn.Pools, "|"))
			}
		}
	}
	m, ema, closeModel, err := o.model.load(o.ckpt)
	if err != nil {
		return err
	}
	defer closeModel()
	cfg := m.Cfg
	if cfg.Tokenizer != "" && cfg.Tokenizer != vocab.DNATokenizer {
		return usagef("embed reads DNA; %s is a %s checkpoint", o.ckpt, cfg.Tokenizer)
	}
	layer, err := cfg.EmbedLayer(o.layer)
	if err != nil {
		return usagef("--%v", err)
	}
	seqs := make([][]int32, len(in.seqs))
	for i, s := range in.seqs {
		if len(s) > cfg.SeqLen {
			return fmt.Errorf("%s: %d bases, longer than the checkpoint's context (seq_len %d); cut it into windows of at most %d",
				in.at(i), len(s), cfg.SeqLen, cfg.SeqLen)
		}
		seqs[i] = make([]int32, len(s))
		for j, id := range s {
			seqs[i][j] = int32(id)
		}
	}
	pool := o.pool
	if o.perBase {
		pool = ""
	}
	vecs, err := m.Embed(seqs, nn.EmbedOptions{Layer: layer, Pool: pool, Batch: o.batch})
	if err != nil {
		return err
	}
	n, d := len(vecs), cfg.DModel
	shape := []int{n, d}
	if o.perBase {
		shape = []int{n, len(seqs[0]), d}
	}
	data := make([]float32, 0, n*len(vecs[0]))
	for _, v := range vecs {
		data = append(data, v...)
	}

	weights, attention := "trained", "bidirectional"
	if ema {
		weights = "ema"
	}
	if cfg.Causal() {
		attention = "causal"
	}
	layerName := "after block " + strconv.Itoa(layer)
	switch layer {
	case 0:
		layerName = "token embedding"
	case cfg.NLayers:
		layerName = "final, after final_ln"
	}
	poolName := pool
	if pool == "" {
		poolName = "none"
	}
	index := indexPath(o.output)
	if ext == ".npy" {
		err = npy.WriteFile(o.output, shape, data)
	} else {
		meta := map[string]string{"ckpt": o.ckpt, "layer": strconv.Itoa(layer), "layer_name": layerName, "pool": poolName,
			"per_base": strconv.FormatBool(o.perBase), "weights": weights, "mode": cfg.Mode, "attention": attention,
			"input": in.src, "index": filepath.Base(index)}
		err = atomicfile.Write(o.output, func(f *os.File) error {
			return nn.WriteSafetensors(f, []nn.NamedTensor{{Name: "embeddings", Shape: shape, Data: data}}, meta)
		})
	}
	if err != nil {
		return err
	}
	if err := writeEmbedIndex(index, in); err != nil {
		os.Remove(o.output) // no embeddings without their index
		return err
	}
	what := "every position"
	if pool != "" {
		what = pool + " over positions"
	}
	_, err = fmt.Fprintf(stdout, "wrote %s: float32 %v, layer %d (%s), %s, %s weights, %s attention (%s); index %s\n",
		o.output, shape, layer, layerName, what, weights, attention, cfg.Mode, index)
	return err
}

// writeEmbedIndex writes the TSV of the output's rows: row, name, length
// (and label).
func writeEmbedIndex(path string, in *embedInput) error {
	return atomicfile.Write(path, func(f *os.File) error {
		w := bufio.NewWriter(f)
		w.WriteString("row\tname\tlength")
		if in.labels != nil {
			w.WriteString("\tlabel")
		}
		w.WriteString("\n")
		for i, name := range in.names {
			fmt.Fprintf(w, "%d\t%s\t%d", i, name, len(in.seqs[i]))
			if in.labels != nil {
				w.WriteString("\t" + in.labels[i])
			}
			w.WriteString("\n")
		}
		return w.Flush()
	})
}

// sameFile reports whether a and b name one existing file.
func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}
