package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/biogo/hts/bgzf"

	"github.com/seqdiff/seqdiff/compute/cpu"
	"github.com/seqdiff/seqdiff/genome"
	"github.com/seqdiff/seqdiff/internal/testenv"
	"github.com/seqdiff/seqdiff/nn"
	"github.com/seqdiff/seqdiff/train"
	"github.com/seqdiff/seqdiff/vocab"
)

// chr20 returns the real GRCh37 chr20 FASTA and the vt normalize VCF of
// ../shared/data, or skips.
func chr20(t *testing.T) (fasta, vcf string) {
	t.Helper()
	dir := testenv.ModuleRoot(t)
	d := filepath.Join(dir, "..", "shared", "data")
	fasta = filepath.Join(d, "genome", "grch37_chr20.fa.gz")
	vcf = filepath.Join(d, "variants", "vt_normalize_chr20.vcf.gz")
	for _, p := range []string{fasta, fasta + ".fai", fasta + ".gzi", vcf} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("score: %s absent (it comes with ../shared/data)", p)
		}
	}
	return fasta, vcf
}

// scoreModel writes a small random checkpoint of mode (seq_len 64).
func scoreModel(t *testing.T, dir, mode string) string {
	t.Helper()
	yml := filepath.Join(dir, "m-"+mode+".yaml")
	os.WriteFile(yml, []byte("d_model: 32\nn_layers: 2\nn_heads: 4\nseq_len: 64\n"), 0o644)
	ck := filepath.Join(dir, "ck-"+mode)
	if _, _, err := run(t, "model", "init", "--config", yml, "--mode", mode, "--seed", "5", "-o", ck); err != nil {
		t.Fatal(err)
	}
	return ck
}

// tsvRow is a data row of a score TSV, by column name.
type tsvRow map[string]string

// readScoreTSV returns the '#' lines and the rows of a score TSV.
func readScoreTSV(t *testing.T, path string) (comments []string, rows []tsvRow) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "#"):
			comments = append(comments, l)
		case cols == nil:
			cols = strings.Split(l, "\t")
		default:
			f := strings.Split(l, "\t")
			if len(f) != len(cols) {
				t.Fatalf("%s: row %q has %d columns, header %d", path, l, len(f), len(cols))
			}
			r := tsvRow{}
			for i, c := range cols {
				r[c] = f[i]
			}
			rows = append(rows, r)
		}
	}
	return comments, rows
}

func (r tsvRow) score(t *testing.T, col string) float64 {
	t.Helper()
	x, err := strconv.ParseFloat(r[col], 64)
	if err != nil {
		t.Fatalf("row %v: %s: %v", r, col, err)
	}
	return x
}

// TestScoreChr20Cases scores the hand-made VCF of real chr20 positions
// (testdata/chr20_cases.vcf) against the real FASTA with an AR model:
// every row the expected method or error kind, the multi-allelic record
// one row per ALT, an SNV's score the difference of the two windows'
// exact log-likelihoods by train.ScoreDNA to 1e-6, and the same rows
// from the gzip and the BGZF copy of the VCF.
func TestScoreChr20Cases(t *testing.T) {
	fasta, _ := chr20(t)
	dir := t.TempDir()
	ck := scoreModel(t, dir, "ar")
	vcf := filepath.Join("testdata", "chr20_cases.vcf")
	out := filepath.Join(dir, "cases.tsv")
	stdout, _, err := run(t, "score", "--ckpt", ck, "--fasta", fasta, "--vcf", vcf, "-o", out, "--batch", "1", "--threads", "1")
	if err != nil {
		t.Fatal(err)
	}
	t.Log(strings.TrimSpace(stdout))
	comments, rows := readScoreTSV(t, out)
	want := map[string]string{
		"first_base": "ar_llr", "snv1": "ar_llr", "snv2": "ar_llr", "chr_prefix": "ar_llr", "lower_ref": "ar_llr",
		"mnv": "ar_llr", "del": "ar_llr", "ins": "ar_llr", "in_gap": "ar_llr", "contig_start": "ar_llr", "contig_end": "ar_llr",
		"wrong_ref": "ref_mismatch", "no_contig": "missing_contig", "past_end": "past_end", "symbolic": "symbolic_alt",
		"star": "star_alt", "breakend": "breakend_alt", "same": "alt_equals_ref",
	}
	if len(rows) != 20 {
		t.Fatalf("%d rows, want 20 (18 records, one with 3 ALTs)", len(rows))
	}
	var snv2 []string
	for _, r := range rows {
		w := want[r["ID"]]
		if w != "ar_llr" {
			if r["score"] != "NA" || !strings.HasPrefix(r["error"], w+": ") {
				t.Errorf("%s: score %s error %q, want NA and %s", r["ID"], r["score"], r["error"], w)
			}
			t.Logf("%-10s %s", r["ID"], r["error"])
			continue
		}
		if r["method"] != w || r["error"] != "." || r["score"] == "NA" {
			t.Errorf("%s: method %s score %s error %q, want %s", r["ID"], r["method"], r["score"], r["error"], w)
		}
		if r["ID"] == "snv2" {
			snv2 = append(snv2, r["ALT"])
		}
	}
	if strings.Join(snv2, ",") != "C,G,A" {
		t.Errorf("multi-allelic rows: ALTs %v", snv2)
	}
	for _, w := range []string{"# checkpoint: " + ck + " (mode ar", "# window: 64 bases", "# method ar_llr:", "# summary: 18 records, 20 ALT rows: 13 scored (13 ar_llr), 7 errors"} {
		if !strings.Contains(strings.Join(comments, "\n"), w) {
			t.Errorf("header lacks %q:\n%s", w, strings.Join(comments, "\n"))
		}
	}
	// snv1 by hand: the REF window of 64 bases centred on 20:1000000 (31
	// bases of left flank), the ALT window with A there.
	x, err := genome.OpenIndexed(fasta)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	win, err := x.Fetch("20", 999999-31, 999999-31+64)
	if err != nil || win[31] != 'G' {
		t.Fatalf("window %s %v", win, err)
	}
	alt := append([]byte(nil), win...)
	alt[31] = 'A'
	m, _, _, err := nn.LoadModel(cpu.New(1), ck, true)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	nll := func(b []byte) float64 {
		ids := make([]uint8, len(b))
		for i, c := range b {
			ids[i] = uint8(map[byte]int{'A': vocab.A, 'C': vocab.C, 'G': vocab.G, 'T': vocab.T, 'N': vocab.N}[c])
		}
		r, err := train.ScoreDNA(m, [][]uint8{ids}, 1)
		if err != nil {
			t.Fatal(err)
		}
		return r.Sum
	}
	wantSNV := nll(win) - nll(alt)
	for _, r := range rows {
		if r["ID"] == "snv1" {
			if got := r.score(t, "score"); math.Abs(got-wantSNV) > 1e-6 {
				t.Errorf("snv1: score %.9f, ScoreDNA difference %.9f", got, wantSNV)
			}
		}
	}
	// The gzip and the BGZF copy give the same rows.
	body, _ := os.ReadFile(vcf)
	var gz, bg bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(body)
	zw.Close()
	bw := bgzf.NewWriter(&bg, 1)
	bw.Write(body)
	bw.Close()
	for name, data := range map[string][]byte{"cases.vcf.gz": gz.Bytes(), "cases.vcf.bgz": bg.Bytes()} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o644)
		if c, _ := genome.Sniff(p); (c == genome.BGZF) != strings.HasSuffix(name, ".bgz") {
			t.Fatalf("%s sniffs as %s", name, c)
		}
		o := filepath.Join(dir, name+".tsv")
		if _, _, err := run(t, "score", "--ckpt", ck, "--fasta", fasta, "--vcf", p, "-o", o, "--batch", "1", "--threads", "1"); err != nil {
			t.Fatal(err)
		}
		_, got := readScoreTSV(t, o)
		if len(got) != len(rows) {
			t.Fatalf("%s: %d rows, plain %d", name, len(got), len(rows))
		}
		for i := range got {
			for k, v := range rows[i] {
				if got[i][k] != v {
					t.Errorf("%s row %d %s: %q, plain %q", name, i, k, got[i][k], v)
				}
			}
		}
	}
}

// TestScoreRealVCF scores all 194 real chr20 indels end to end: with an
// AR model (TSV, --rc) and an MDLM (JSON, NELBO differences), every record
// one row, the errors counted in the summary.
func TestScoreRealVCF(t *testing.T) {
	fasta, vcf := chr20(t)
	dir := t.TempDir()
	ar, mdlm := scoreModel(t, dir, "ar"), scoreModel(t, dir, "mdlm")
	out := filepath.Join(dir, "ar.tsv")
	stdout, _, err := run(t, "score", "--ckpt", ar, "--fasta", fasta, "--vcf", vcf, "--out", out, "--rc", "--batch", "64")
	if err != nil {
		t.Fatal(err)
	}
	t.Log(strings.TrimSpace(stdout))
	comments, rows := readScoreTSV(t, out)
	if len(rows) != 194 {
		t.Fatalf("%d rows, want 194", len(rows))
	}
	errs := 0
	for _, r := range rows {
		if r["error"] != "." {
			errs++
			continue
		}
		f, rc, s := r.score(t, "score_fwd"), r.score(t, "score_rc"), r.score(t, "score")
		if r["method"] != "ar_llr" || math.Abs(s-(f+rc)/2) > 2e-9 {
			t.Errorf("%s:%s %s>%s: method %s score %v fwd %v rc %v", r["CHROM"], r["POS"], r["REF"], r["ALT"], r["method"], s, f, rc)
		}
	}
	sum := comments[len(comments)-1]
	if want := "# summary: 194 records, 194 ALT rows: " + strconv.Itoa(194-errs) + " scored"; !strings.HasPrefix(sum, want) || !strings.Contains(sum, strconv.Itoa(errs)+" errors") {
		t.Errorf("summary %q, want %q... %d errors", sum, want, errs)
	}
	if !strings.Contains(stdout, "194 records, 194 ALT rows") {
		t.Errorf("stdout %q", stdout)
	}
	// MDLM, JSON: every indel a NELBO difference, K and seed in the header.
	js := filepath.Join(dir, "mdlm.json")
	if _, _, err := run(t, "score", "--ckpt", mdlm, "--fasta", fasta, "--vcf", vcf, "-o", js, "--json", "--draws", "2", "--seed", "7", "--window", "48", "--batch", "64"); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Header struct {
			Mode    string            `json:"mode"`
			Window  int               `json:"window"`
			Draws   int               `json:"draws"`
			Seed    uint64            `json:"seed"`
			Methods map[string]string `json:"methods"`
		} `json:"header"`
		Rows []struct {
			Pos    int      `json:"pos"`
			Score  *float64 `json:"score"`
			Method string   `json:"method"`
			Error  string   `json:"error"`
		} `json:"rows"`
		Summary struct {
			Records, Rows, Scored, Errors int
			ByMethod                      map[string]int `json:"scored_by_method"`
		} `json:"summary"`
	}
	b, _ := os.ReadFile(js)
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	h := rep.Header
	if h.Mode != "mdlm" || h.Window != 48 || h.Draws != 2 || h.Seed != 7 || !strings.Contains(h.Methods["nelbo_diff"], "K = 2 draws") {
		t.Errorf("header %+v", h)
	}
	if len(rep.Rows) != 194 || rep.Summary.Records != 194 || rep.Summary.Rows != 194 || rep.Summary.Scored+rep.Summary.Errors != 194 ||
		rep.Summary.ByMethod["nelbo_diff"] != rep.Summary.Scored {
		t.Errorf("%d rows, summary %+v", len(rep.Rows), rep.Summary)
	}
	for _, r := range rep.Rows {
		if (r.Error == "") != (r.Score != nil) || (r.Error == "" && r.Method != "nelbo_diff") {
			t.Errorf("row %+v", r)
		}
	}
}

// TestScoreUsage: a window past seq_len is a usage error (exit 2).
func TestScoreUsage(t *testing.T) {
	dir := t.TempDir()
	ck := scoreModel(t, dir, "mdlm")
	fa := hostileWrite(t, dir, "g.fa", ">1\n"+hostileBases(200, 1)+"\n")
	vcf := hostileWrite(t, dir, "v.vcf", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--window", "65"}, "--window 65: the checkpoint " + ck + " has seq_len 64"},
		{[]string{"--window", "2"}, "--window 2: must be 0 (seq_len) or at least 4"},
		{[]string{"--draws", "0"}, "--draws 0: must be >= 1"},
	} {
		out := filepath.Join(dir, "o.tsv")
		_, _, err := run(t, append([]string{"score", "--ckpt", ck, "--fasta", fa, "--vcf", vcf, "-o", out}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) || exitCode(context.Background(), err) != 2 {
			t.Errorf("%v: %v (exit %d), want %q and exit 2", c.args, err, exitCode(context.Background(), err), c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%v: output written", c.args)
		}
	}
	// An empty VCF (header only) writes a header and no rows.
	out := filepath.Join(dir, "empty.tsv")
	if _, _, err := run(t, "score", "--ckpt", ck, "--fasta", fa, "--vcf", vcf, "-o", out); err != nil {
		t.Fatal(err)
	}
	if _, rows := readScoreTSV(t, out); len(rows) != 0 {
		t.Errorf("%d rows from an empty VCF", len(rows))
	}
}
