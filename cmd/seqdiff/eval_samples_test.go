package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/dataprep"
	"github.com/seqdiff/seqdiff/evaluate"
)

// writeFASTA writes seqs (token ids) to dir/name as lower-case FASTA
// wrapped at 50, as another tool might write it.
func writeFASTA(t *testing.T, dir, name string, seqs [][]uint8) string {
	t.Helper()
	var b strings.Builder
	for i, s := range seqs {
		txt, err := dataprep.DNA{}.Decode(idsOf(s))
		if err != nil {
			t.Fatal(err)
		}
		txt = strings.ToLower(txt)
		fmt.Fprintf(&b, ">seq%d\n", i)
		for len(txt) > 50 {
			b.WriteString(txt[:50] + "\n")
			txt = txt[50:]
		}
		b.WriteString(txt + "\n")
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func idsOf(s []uint8) []int32 {
	out := make([]int32, len(s))
	for i, id := range s {
		out[i] = int32(id)
	}
	return out
}

func evalSamplesJSON(t *testing.T, args ...string) samplesReport {
	t.Helper()
	out, _, err := run(t, append([]string{"eval", "samples", "--json"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	var rep samplesReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	return rep
}

// TestEvalSamples: real held-out windows (the valid split) scored as
// samples against the test split sit near the real-vs-real floor at every
// k, and well below a degenerate sampler's divergence; the JSON has every
// field, and with --scorer both sides carry the AR NLL.
func TestEvalSamples(t *testing.T) {
	dir := t.TempDir()
	prep := filepath.Join(dir, "prep")
	if _, _, err := run(t, "prep", "--out", prep, "--seq-len", "256", "--quiet"); err != nil {
		t.Fatal(err)
	}
	ds, err := dataprep.Open(prep)
	if err != nil {
		t.Fatal(err)
	}
	valid, err := ds.Split("valid")
	if err != nil {
		t.Fatal(err)
	}
	const n = 24
	lens := make([]int, n)
	for i := range lens {
		lens[i] = 200 + i%2*56 // shorter than the rows, and as long
	}
	realSeqs, _, err := evaluate.RealWindows(valid, 1, lens)
	if err != nil {
		t.Fatal(err)
	}
	realFA := writeFASTA(t, dir, "real.fa", realSeqs)
	rep := evalSamplesJSON(t, "--samples", realFA, "--data", prep, "--split", "test")
	if rep.SamplesFile != realFA || rep.Data != prep || rep.Split != "test" || rep.JSUnit != "bits" || rep.Scorer != "" {
		t.Errorf("report header: %+v", rep)
	}
	if rep.Samples.Sequences != n || rep.Reference.Sequences != n || rep.Samples.MeanLen != 228 || rep.Reference.MeanLen != 228 {
		t.Errorf("sizes: samples %+v, real %+v", rep.Samples, rep.Reference)
	}
	if rep.Floor != "disjoint" || rep.FloorSequences != [2]int{n, n} {
		t.Errorf("floor %q %v", rep.Floor, rep.FloorSequences)
	}
	for _, s := range []evaluate.SetStats{rep.Samples, rep.Reference} {
		if !(s.GCMean > 0.3 && s.GCMean < 0.65) || !(s.GCStd > 0) || !(s.Entropy3Mean > 4.5 && s.Entropy3Mean <= 6) || s.ScorerNLL != nil {
			t.Errorf("real DNA stats: %+v", s)
		}
	}
	for k := 1; k <= evaluate.SampleK; k++ {
		js, fl := rep.KmerJS[k], rep.KmerJSFloor[k]
		t.Logf("k %d: JS %.4f, floor %.4f", k, js, fl)
		if !(fl > 0) || !(js > 0) || js > 3*fl {
			t.Errorf("k %d: real windows as samples: JS %.4f, floor %.4f", k, js, fl)
		}
	}

	// A degenerate sampler: runs of 30 A between real stretches of 10.
	bad := make([][]uint8, n)
	for i, s := range realSeqs {
		bad[i] = append([]uint8(nil), s...)
		for j := range bad[i] {
			if j%40 < 30 {
				bad[i][j] = 7 // A
			}
		}
	}
	badFA := writeFASTA(t, dir, "bad.fa", bad)
	q := evalSamplesJSON(t, "--samples", badFA, "--data", prep, "--max-ref", "12")
	if q.Reference.Sequences != 12 || q.Floor != "disjoint" || q.Samples.HomopolymerShare < 0.4 {
		t.Errorf("degenerate samples: %+v", q)
	}
	for k := 1; k <= evaluate.SampleK; k++ {
		// JS is at most 1: at k = 6 the floor of 12 sequences is near 0.5.
		if q.KmerJS[k] < 1.5*q.KmerJSFloor[k] || q.KmerJS[k] < 2*rep.KmerJS[k] {
			t.Errorf("k %d: degenerate samples JS %.4f, floor %.4f, real samples %.4f", k, q.KmerJS[k], q.KmerJSFloor[k], rep.KmerJS[k])
		}
	}

	// The AR scorer: both sides scored, named in the output.
	ar := filepath.Join(dir, "ar")
	if _, _, err := run(t, "pretrain", "--mode", "ar", "--data", prep, "--out", ar, "--d-model", "16", "--n-layers", "1",
		"--n-heads", "2", "--batch", "4", "--max-steps", "2", "--warmup", "1", "--eval-every", "0", "--log-every", "0", "--threads", "1"); err != nil {
		t.Fatal(err)
	}
	rep = evalSamplesJSON(t, "--samples", realFA, "--data", prep, "--scorer", ar, "--threads", "1")
	if rep.Scorer != ar || !strings.Contains(rep.ScorerDesc, "seq_len 256") {
		t.Errorf("scorer %q %q", rep.Scorer, rep.ScorerDesc)
	}
	for _, s := range []evaluate.SetStats{rep.Samples, rep.Reference} {
		// Rows of 200 and 256 in one window each: 199 and 255 scored.
		if s.ScorerNLL == nil || !(*s.ScorerNLL > 0.5) || math.IsInf(*s.ScorerNLL, 0) || s.ScorerTokens != n/2*(199+255) {
			t.Errorf("scorer NLL: %+v", s)
		}
	}
	out, _, err := run(t, "eval", "samples", "--samples", realFA, "--data", prep, "--scorer", ar, "--threads", "1")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GC content", "3-mer entropy", "homopolymers >= 6", "NLL under the scorer", "scorer " + ar, "real vs real (floor)", "two disjoint sets of 24"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	t.Logf("\n%s", out)

	mdlm := filepath.Join(dir, "mdlm")
	if _, _, err := run(t, "pretrain", "--mode", "mdlm", "--data", prep, "--out", mdlm, "--d-model", "16", "--n-layers", "1",
		"--n-heads", "2", "--batch", "2", "--max-steps", "1", "--warmup", "1", "--eval-every", "0", "--log-every", "0", "--threads", "1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, "eval", "samples", "--samples", realFA, "--data", prep, "--scorer", mdlm, "--threads", "1"); err == nil ||
		!strings.Contains(err.Error(), "must be an ar checkpoint") || !strings.Contains(err.Error(), mdlm) {
		t.Errorf("mdlm scorer: %v", err)
	}
}

func TestEvalSamplesErrors(t *testing.T) {
	dir := t.TempDir()
	prep := hostilePrep(t, dir)
	write := func(name, body string) string { return hostileWrite(t, dir, name, body) }
	ok := write("ok.fa", ">a\nacgtACGTnnACGT\n>b\nGGGCCC\n")
	for _, c := range []struct {
		args  []string
		msg   []string
		usage bool
	}{
		{[]string{"--samples", write("empty.fa", "")}, []string{"empty.fa", "empty file"}, false},
		{[]string{"--samples", write("n.fa", ">s0\nACGT\n>s1 all N\nNNNN\nNN\n")}, []string{"n.fa", "record s1", "sample 2", "no A, C, G or T"}, false},
		{[]string{"--samples", write("bad.fa", ">s0\nACGT\n>s1\nAC-GT\n")}, []string{"bad.fa:4", "record s1"}, false},
		{[]string{"--samples", filepath.Join(dir, "missing.fa")}, []string{"missing.fa"}, false},
		{[]string{"--samples", ok, "--max-ref", "-1"}, []string{"--max-ref -1"}, true},
		{[]string{"--samples", ok, "--batch", "4"}, []string{"--batch goes with --scorer"}, true},
		{[]string{"--samples", ok, "--scorer", dir}, []string{dir}, false},
	} {
		args := append([]string{"eval", "samples", "--data", prep}, c.args...)
		_, _, err := run(t, args...)
		if err == nil {
			t.Errorf("%v: no error", c.args)
			continue
		}
		for _, m := range c.msg {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("%v: %v, want mention of %q", c.args, err, m)
			}
		}
		if errors.As(err, new(usageError)) != c.usage {
			t.Errorf("%v: usage error %v, want %v", c.args, !c.usage, c.usage)
		}
	}
	// Lower case and N read; a sample longer than the rows (16) is matched
	// by rows joined.
	long := write("long.fa", ">x\n"+strings.Repeat("acgtt", 8)+"\n")
	rep := evalSamplesJSON(t, "--samples", long, "--data", prep)
	if rep.Samples.Bases != 40 || rep.Reference.MeanLen != 40 || rep.Floor != "disjoint" {
		t.Errorf("long sample: %+v", rep)
	}
	rep = evalSamplesJSON(t, "--samples", ok, "--data", prep, "--split", "valid")
	if rep.Samples.NShare != 2.0/20 || rep.Samples.Sequences != 2 || rep.Split != "valid" {
		t.Errorf("ok.fa: %+v", rep)
	}
}
