package experiment

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/seqdiff/seqdiff/evaluate"
	"github.com/seqdiff/seqdiff/internal/atomicfile"
	"github.com/seqdiff/seqdiff/nn"

	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/finetune"
	"github.com/seqdiff/seqdiff/plots"
	"github.com/seqdiff/seqdiff/train"
)

// report writes OUT/report.md from the stages' outputs (it reads files
// only, so it is the same whether the stages ran now or earlier).
func (s *study) report(context.Context) error {
	p := filepath.Join(s.out, "report.md")
	if s.skip("report", p) {
		return nil
	}
	var b strings.Builder
	name := s.cfg.Name
	if name == "" {
		name = filepath.Base(s.out)
	}
	fmt.Fprintf(&b, "# seqdiff study: %s\n\nWritten by `seqdiff experiment` on %s. Every number below is read from the files of this directory.\n\n",
		name, time.Now().UTC().Format("2006-01-02 15:04 UTC"))

	if m, err := dataprep.ReadManifest(s.prepDir()); err == nil {
		fmt.Fprintf(&b, "## Data\n\nInput `%s` (%d bases), rows of %d tokens.\n\n| split | windows | tokens | N fraction |\n|---|---|---|---|\n", m.Input.Path, m.Input.Bases, m.SeqLen)
		for _, n := range []string{"train", "valid", "test"} {
			if sp := m.Splits[n]; sp != nil {
				fmt.Fprintf(&b, "| %s | %d | %d | %.4f |\n", n, sp.Windows, sp.Tokens, sp.NFraction)
			}
		}
		b.WriteString("\n")
	}

	b.WriteString("## Models\n\n| model | mode | from | steps | training tokens | last valid loss | training time |\n|---|---|---|---|---|---|---|\n")
	models := append([]string{s.cfg.Pretrain.Mode}, s.generative()...)
	if len(s.cfg.Models) > 0 {
		models = s.generative()
	}
	for _, m := range models {
		dir := s.runDir(m)
		ck, err := readCkptState(dir)
		if err != nil {
			if g, ok := s.given(m); ok {
				fmt.Fprintf(&b, "| %s | %s | given checkpoint `%s` | - | - | - | - |\n", m, g.Objective, g.Ckpt)
			}
			continue
		}
		from := "random init"
		if org, err := finetune.ReadOrigin(dir); err == nil {
			from = filepath.Base(org.From) + " (" + org.FromMode + ")"
		}
		if g, ok := s.given(m); ok {
			from = "given checkpoint `" + g.Ckpt + "`"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %.2fM | %s | %s |\n", m, ck.mode, from, ck.step, float64(ck.tokens)/1e6,
			lastValid(dir), time.Duration(ck.elapsed*float64(time.Second)).Round(time.Second))
	}

	b.WriteString("\n## Perplexity\n\nPer base on the test split. AR: exact. MDLM: exp of the NELBO, an upper bound on the perplexity (K draws of (t, mask) per sequence). kmer-bidirectional: MDLM's floor, a count model of a masked base given the visible bases around it (up to M on each side), scored under the same NELBO with the same draws.\n\n| model | mode | perplexity | bits/base | tokens | kind |\n|---|---|---|---|---|---|\n")
	for _, m := range append(s.generative(), evaluate.KmerMode, evaluate.KmerBidirMode) {
		v, err := evaluate.ReadReport(filepath.Join(s.models(), m, plots.PPLFile))
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %.4f | %.4f | %d | %s |\n", m, v.Mode, v.Perplexity, v.BitsPerToken, v.Tokens, v.Kind())
	}
	if fl, err := evaluate.ReadReport(filepath.Join(s.models(), evaluate.KmerBidirMode, plots.PPLFile)); err == nil {
		b.WriteString("\n")
		for _, m := range s.generative() {
			if v, err := evaluate.ReadReport(filepath.Join(s.models(), m, plots.PPLFile)); err == nil && v.Mode == nn.ModeMDLM {
				fmt.Fprintf(&b, "- %s\n", floorSentence(m, v, fl))
			}
		}
	}

	var rs []*finetune.Results
	for _, t := range s.cfg.Tasks {
		for _, m := range append(s.downstreamModels(), finetune.BaselineModes...) {
			if r, err := finetune.ReadResults(filepath.Join(s.models(), m, "tasks", t.Name, plots.ResultsFile)); err == nil {
				r.Checkpoint = m
				rs = append(rs, r)
			}
		}
	}
	if len(rs) > 0 {
		b.WriteString("\n## Downstream tasks\n\nTest scores, mean ± sample standard deviation [min, max] over seeds. A linear head on the final hidden states (mean: mean-pooled; flat: a weight per position), whole backbone fine-tuned with its own attention; per seed a 90/10 train/valid split, early stopping on the valid loss, and the head and learning rate with the lowest valid loss (column head, lr). Rows kmer and onehot: logistic regression on the k-mer spectrum (k chosen on valid per seed) and on the one-hot base at each position (L2 chosen on valid), with the same rows and splits; a network row below the best of them is marked **below**.\n\n")
		if n := s.cfg.Downstream.MaxTrain; n > 0 {
			fmt.Fprintf(&b, "Scale: each seed uses a stratified sample of at most %d rows of the train part (then split 90/10 into train/valid).\n", n)
		}
		if n := s.cfg.Downstream.MaxTest; n > 0 {
			fmt.Fprintf(&b, "Scale: at most %d test rows per task are scored (a stratified sample, the same rows for every seed and model and the k-mer row).\n", n)
		}
		if s.cfg.Downstream.MaxTrain > 0 || s.cfg.Downstream.MaxTest > 0 {
			b.WriteString("\n")
		}
		b.WriteString(finetune.Markdown(rs))
		b.WriteString("\n")
		seen := map[string]bool{}
		for _, r := range rs {
			if !seen[r.Task] {
				seen[r.Task] = true
				fmt.Fprintf(&b, "- %s: %d train / %d test rows from `%s`; split: %s; classes %v; %s.\n", r.Task, r.NTrain, r.NTest, r.Source, r.Split, r.Classes, r.Crop)
			}
		}
	}

	if rows, err := plots.ReadBench(filepath.Join(s.out, "bench", plots.BenchFile)); err == nil {
		b.WriteString("\n## Sampling: speed and quality\n\nQuality: the k-mer spectrum Jensen-Shannon divergence (bits) of the samples to as many real test windows (lower is better; the real row is two disjoint sets of real windows, the floor at this size), and the samples' NLL per base under the AR model.\n\n| sampler | setting | sequences x tokens | model calls | seconds | tokens/s | 3-mer JS | 6-mer JS | NLL/base (AR) |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, r := range rows {
			st := fmt.Sprintf("T %d", r.Steps)
			switch r.Sampler {
			case train.SamplerARKV:
				st = "one step per token"
			case train.SamplerFirstHitting:
				st = fmt.Sprintf("k %d", max(r.TokensPerStep, 1))
			case train.SamplerTopK:
				st = fmt.Sprintf("%d calls, %s", r.Steps, cmp.Or(r.Reveal, "linear"))
				if r.ConfidenceNoise > 0 {
					st += fmt.Sprintf(", noise %g", r.ConfidenceNoise)
				}
			case train.SamplerReal:
				st = "real windows"
			}
			q := func(v float64, ok bool) string {
				if !ok || v <= 0 {
					return "-"
				}
				return fmt.Sprintf("%.4f", v)
			}
			js3, ok3 := r.KmerJS[3]
			js6, ok6 := r.KmerJS[6]
			speed := "-"
			if r.TokensPerS > 0 {
				speed = fmt.Sprintf("%.0f", r.TokensPerS)
			}
			fmt.Fprintf(&b, "| %s | %s | %d x %d | %d | %.3f | %s | %s | %s | %s |\n", r.Sampler, st, r.N, r.Len, r.Calls, r.Seconds, speed,
				q(js3, ok3), q(js6, ok6), q(r.GenNLL, r.GenNLL > 0))
		}
	}

	b.WriteString("\n## Figures\n\n")
	for _, f := range []struct{ name, caption string }{
		{plots.FigPPLAccuracy, "Test perplexity against downstream test accuracy (mean over seeds, bars: min-max), one panel per task and an overview."},
		{plots.FigCurves, "Learning curves: train loss (running mean) and valid loss against training tokens."},
		{plots.FigSampling, "Sampling speed against MDLM model calls for each sampler; AR with a KV cache for reference."},
		{plots.FigQuality, "Sample quality (6-mer spectrum JS to real test windows; lower is better) against speed, with the real-vs-real floor."},
	} {
		if _, err := os.Stat(filepath.Join(s.figDir(), f.name+".png")); err == nil {
			fmt.Fprintf(&b, "![%s](figures/%s.png)\n\n%s ([SVG](figures/%s.svg))\n\n", f.name, f.name, f.caption, f.name)
		}
	}
	if err := atomicfile.WriteFile(p, []byte(b.String())); err != nil {
		return err
	}
	s.progress("report", "%s", s.rel(p))
	return nil
}

// floorSentence says whether the NELBO v of MDLM model name is below the
// bidirectional k-mer floor fl: whether it has learned more than the
// local statistics the floor counts.
func floorSentence(name string, v, fl evaluate.Report) string {
	if v.Split != fl.Split || v.Draws != fl.Draws || v.Seed != fl.Seed || v.Rows != fl.Rows || v.Tokens != fl.Tokens {
		return fmt.Sprintf("%s and the bidirectional k-mer floor were scored on different rows or draws, so they are not compared.", name)
	}
	d := fl.NLLPerToken - v.NLLPerToken
	if d > 0 {
		return fmt.Sprintf("%s's NELBO, %.4f nats/base, is below the bidirectional k-mer floor (%.4f, up to %d visible bases each side, the same draws) by %.4f: it has learned more than the local statistics of %d bases either side.",
			name, v.NLLPerToken, fl.NLLPerToken, fl.KmerOrder, d, fl.KmerOrder)
	}
	return fmt.Sprintf("%s's NELBO, %.4f nats/base, is not below the bidirectional k-mer floor (%.4f, up to %d visible bases each side, the same draws; %.4f above it): it has not learned more than the local statistics of %d bases either side.",
		name, v.NLLPerToken, fl.NLLPerToken, fl.KmerOrder, -d, fl.KmerOrder)
}

type ckState struct {
	mode    string
	step    int
	tokens  int64
	elapsed float64
}

// readCkptState reads the mode and the step, tokens and training time of
// the checkpoint of the run in dir.
func readCkptState(dir string) (ckState, error) {
	ck := filepath.Join(dir, nn.CheckpointDir)
	cfg, err := nn.ReadConfig(ck)
	if err != nil {
		return ckState{}, err
	}
	var st struct {
		Step     int     `json:"step"`
		Tokens   int64   `json:"tokens"`
		ElapsedS float64 `json:"elapsed_s"`
	}
	p := filepath.Join(ck, nn.StateFile)
	b, err := os.ReadFile(p)
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil {
		return ckState{}, fmt.Errorf("%s: %w", p, err)
	}
	return ckState{mode: cfg.Mode, step: st.Step, tokens: st.Tokens, elapsed: st.ElapsedS}, nil
}

// lastValid is the last valid loss in dir's metrics.jsonl, or "-".
func lastValid(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, train.MetricsFile))
	if err != nil {
		return "-"
	}
	out := "-"
	for _, l := range strings.Split(string(b), "\n") {
		var m train.Metric
		if json.Unmarshal([]byte(l), &m) == nil && m.ValidLoss != nil {
			out = fmt.Sprintf("%.4f", *m.ValidLoss)
		}
	}
	return out
}
