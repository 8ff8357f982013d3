package main

import (
	"cmp"
	"fmt"
	"io"
	"time"

	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/vocab"

	"github.com/spf13/cobra"

	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/train"
)

func init() { register(newSampleCmd) }

type sampleOptions struct {
	ckpt   string
	output string
	prefix string
	suffix string
	infill string
	gen    train.GenerateOptions
	model  modelFlags
	full   bool
}

func newSampleCmd() *cobra.Command {
	o := &sampleOptions{}
	cmd := &cobra.Command{
		Use:   "sample",
		Short: "Generate DNA (FASTA) or text from an MDLM or AR checkpoint",
		Long: `Generate --n sequences of --len tokens from a checkpoint (or a run directory's
latest; the EMA weights when present, --raw for the trained ones) and write
them as FASTA (DNA checkpoints) or text (checkpoints trained on a text prep,
decoded with the tokenizer recorded in the checkpoint).

Text output is one sample per line (each run of whitespace inside a sample,
newlines included, becomes one space), or, when --output ends in .jsonl, one JSON object {"sample": i, "text":
...} per line with the text as generated. Every text sample starts with the
tokenizer's BOS ([CLS] for bert-base-uncased, <|endoftext|> for gpt2)
clamped at position 0, as every training row does; --prefix text follows it.
A sample is cut after its first EOS past position 0 ([SEP] or
<|endoftext|>: one LM1B sentence, one OWT document; the model was never
trained on what follows an LM1B [SEP]); --full keeps the whole --len tokens.
[PAD] never appears (it is never sampled); special tokens are written by
name.

MDLM samplers (--sampler): ddpm, ancestral sampling in --steps steps from
all-[MASK]; ddpm_cache, the same with the model call skipped for rows where no
position changed; first_hitting, the exact sampler of infinitely many steps
with one model call per revealed base (--tokens-per-step k reveals k per call:
k times fewer calls, no longer exact); topk_confidence, --steps model calls,
each keeping the most confident of the tokens drawn for the masked positions
(--reveal linear: as many each call; cosine: few first; --confidence-noise
adds MaskGIT's annealed Gumbel noise to the ranking). --prefix and --suffix
are clamped (infilling); --infill FASTA fills the N positions of each record
and keeps its bases (one sample per record, in order; --n and --len then come
from the file; as everywhere, lower case reads as the base and IUPAC codes as
N). Past the model's seq_len, generation is
semi-autoregressive: each window keeps the last tokens as a clamped prefix and
generates --stride new ones. AR: ancestral sampling with a KV cache,
temperature, top-k and top-p; --prefix is the prompt (without one, each row
starts with a uniformly drawn base); past seq_len the window slides (when the
cache is full, the last seq_len/2 tokens are encoded again).`,
		Example: `  seqdiff sample --ckpt runs/mdlm --n 4 --len 1024 --steps 256 -o mdlm.fa
  seqdiff sample --ckpt runs/mdlm --n 2 --len 200 --prefix ACGTACGT --suffix TTTT --sampler ddpm_cache -o infill.fa
  seqdiff sample --ckpt runs/mdlm --n 8 --len 1024 --sampler first_hitting --tokens-per-step 8 -o fh.fa
  seqdiff sample --ckpt runs/mdlm --n 8 --len 1024 --sampler topk_confidence --steps 128 --reveal cosine -o topk.fa
  seqdiff sample --ckpt runs/mdlm --infill regions.fa -o filled.fa
  seqdiff sample --ckpt runs/ar --n 4 --len 1024 --temperature 0.9 --top-p 0.95 --output ar.fa
  seqdiff sample --ckpt runs/lm1b-mdlm --n 16 --steps 128 -o mdlm.txt
  seqdiff sample --ckpt runs/lm1b-ar --n 16 --prefix "the president said" -o ar.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.ErrOrStderr()) },
	}
	f := cmd.Flags()
	g := &o.gen
	f.StringVar(&o.ckpt, "ckpt", "", "checkpoint directory or run directory")
	f.StringVarP(&o.output, "output", "o", "", "file to write: FASTA (DNA), text or .jsonl (text checkpoints)")
	alias(f, "out", "output")
	f.IntVar(&g.N, "n", 1, "sequences")
	f.IntVar(&g.Len, "len", 0, "length in tokens (bases), prefix and suffix included (0: the model's seq_len)")
	f.IntVar(&g.Batch, "batch", 8, "sequences generated together")
	f.IntVar(&g.Steps, "steps", 128, "MDLM: ddpm's denoising steps T, topk_confidence's model calls")
	choiceVar(cmd, &g.Sampler, "sampler", train.SamplerDDPMCache, train.MDLMSamplers, "MDLM sampler")
	f.IntVar(&g.TokensPerStep, "tokens-per-step", 1, "MDLM first_hitting: bases revealed per model call (1: exact)")
	f.StringVar(&g.Reveal, "reveal", "", "MDLM topk_confidence: reveal schedule over the calls, linear or cosine (default linear)")
	f.Float64Var(&g.ConfidenceNoise, "confidence-noise", 0, "MDLM topk_confidence: annealed Gumbel noise on the log-confidence ranking (MaskGIT; 0: none)")
	f.StringVar(&o.infill, "infill", "", "MDLM: FASTA of rows whose N positions to fill (bases kept)")
	f.IntVar(&g.Stride, "stride", 0, "MDLM past seq_len: new tokens per window (0: seq_len/2)")
	f.StringVar(&o.prefix, "prefix", "", "bases or text clamped at the start (AR: the prompt)")
	f.StringVar(&o.suffix, "suffix", "", "bases or text clamped at the end (MDLM)")
	f.Float64Var(&g.Temperature, "temperature", 1, "divides the logits")
	f.IntVar(&g.TopK, "top-k", 0, "AR: keep the k most likely tokens (0: all)")
	f.Float64Var(&g.TopP, "top-p", 1, "AR: nucleus mass (1: all)")
	f.Uint64Var(&g.Seed, "seed", 0, "seed")
	o.model.bind(cmd)
	f.BoolVar(&o.full, "full", false, "text: keep the whole --len tokens instead of cutting after the first EOS")
	required(cmd, "ckpt", "output")
	return cmd
}

func (o *sampleOptions) run(stderr io.Writer) error {
	m, ema, closeModel, err := o.model.load(o.ckpt)
	if err != nil {
		return err
	}
	defer closeModel()
	tok, err := dataprep.TokenizerByName(m.Cfg.Tokenizer)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", o.ckpt, err)
	}
	if o.gen.Prefix, err = encodeSeq(tok, "--prefix", o.prefix); err != nil {
		return err
	}
	if o.gen.Suffix, err = encodeSeq(tok, "--suffix", o.suffix); err != nil {
		return err
	}
	text := tok.Name() != vocab.DNATokenizer
	if text {
		o.gen.Prefix = dataprep.WithBOS(tok, o.gen.Prefix)
	}
	if o.gen.Len == 0 {
		o.gen.Len = m.Cfg.SeqLen
	}
	if o.infill != "" {
		if text {
			return usageError{fmt.Errorf("--infill reads DNA FASTA; %s is a text checkpoint", o.ckpt)}
		}
		if _, o.gen.Infill, err = dataprep.ReadInfill(o.infill); err != nil {
			return err
		}
	}
	t0 := time.Now()
	rows, st, err := train.Generate(m, o.gen)
	if err != nil {
		return err
	}
	dt := time.Since(t0)
	desc := fmt.Sprintf("mode=%s len=%d seed=%d ema=%v", m.Cfg.Mode, o.gen.Len, o.gen.Seed, ema)
	if m.Cfg.Mode == nn.ModeMDLM {
		desc += " sampler=" + o.gen.Sampler
		switch o.gen.Sampler {
		case train.SamplerFirstHitting:
			desc += fmt.Sprintf(" tokens_per_step=%d", max(o.gen.TokensPerStep, 1))
		case train.SamplerTopK:
			desc += fmt.Sprintf(" steps=%d reveal=%s", o.gen.Steps, cmp.Or(o.gen.Reveal, "linear"))
		default:
			desc += fmt.Sprintf(" steps=%d", o.gen.Steps)
		}
		if o.infill != "" {
			desc += " infill=" + o.infill
		}
	}
	if err := dataprep.WriteSamples(o.output, tok, rows, desc, !o.full); err != nil {
		return err
	}
	ntok := 0
	for _, r := range rows {
		ntok += len(r)
	}
	fmt.Fprintf(stderr, "sample: %d rows, %d tokens in %s (%.0f tokens/s, %d model calls) -> %s\n",
		len(rows), ntok, dt.Round(time.Millisecond), float64(ntok)/dt.Seconds(), st.Calls, o.output)
	return nil
}

func encodeSeq(tok dataprep.Tokenizer, flag, s string) ([]int32, error) {
	if s == "" {
		return nil, nil
	}
	ids, err := tok.Encode([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return ids, nil
}
