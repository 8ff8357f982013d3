package dataprep

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/genome"
)

type rec struct{ name, seq string }

// writeFASTA writes records as a plain FASTA with 60-base lines.
func writeFASTA(t *testing.T, dir string, recs ...rec) string {
	t.Helper()
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, ">%s\n", r.name)
		for s := r.seq; len(s) > 0; {
			n := min(60, len(s))
			b.WriteString(s[:n] + "\n")
			s = s[n:]
		}
	}
	p := filepath.Join(dir, "in.fa")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// prepRows runs Prep and returns the manifest and the decoded rows of each
// split.
func prepRows(t *testing.T, opts Options) (*Manifest, map[string][]string) {
	t.Helper()
	m, err := Prep(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return m, readRows(t, opts.Out)
}

func readRows(t *testing.T, dir string) map[string][]string {
	t.Helper()
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	for _, name := range SplitNames {
		s, err := d.Split(name)
		if err != nil {
			t.Fatal(err)
		}
		for i := range s.Rows() {
			ids := make([]int32, s.SeqLen)
			toInt32(ids, s.Row(i))
			txt, err := DNA{}.Decode(ids)
			if err != nil {
				t.Fatal(err)
			}
			rows[name] = append(rows[name], txt)
		}
	}
	return rows
}

func allRows(rows map[string][]string) []string {
	var out []string
	for _, s := range SplitNames {
		out = append(out, rows[s]...)
	}
	return out
}

func TestWindowsMaxN(t *testing.T) {
	dir := t.TempDir()
	seq := "ACGTACGT" + "NNNNACGT" + "NNNNNACG" + "NNNNNNNN" + "acgtRYKM" + "ACGTACG" // last 7: a partial window
	fa := writeFASTA(t, dir, rec{"chr1", seq})
	for _, c := range []struct {
		maxN   float64
		noMaxN bool
		stride int
		want   []string
	}{
		{maxN: 0.5, stride: 8, want: []string{"ACGTACGT", "NNNNACGT", "ACGTNNNN"}},
		{maxN: 0, noMaxN: true, stride: 8, want: []string{"ACGTACGT"}},
		// all-N windows are dropped even when any fraction is allowed
		{maxN: 1, stride: 8, want: []string{"ACGTACGT", "NNNNACGT", "NNNNNACG", "ACGTNNNN"}},
		{maxN: 0.5, stride: 4, want: []string{"ACGTACGT", "ACGTNNNN", "NNNNACGT", "ACGTNNNN", "NNNNACGT", "ACGTNNNN", "NNNNACGT"}},
	} {
		out := filepath.Join(dir, fmt.Sprint("out", c.maxN, c.stride))
		_, rows := prepRows(t, Options{Fasta: fa, Out: out, SeqLen: 8, Stride: c.stride, MaxN: c.maxN, NoMaxN: c.noMaxN, Block: 1000})
		if got := allRows(rows); !slices.Equal(got, c.want) {
			t.Errorf("max-n %v stride %d: rows %q, want %q", c.maxN, c.stride, got, c.want)
		}
	}
}

// randSeq returns n deterministic pseudo-random bases.
func randSeq(n int, seed uint64) string {
	r := newTestRand(seed)
	b := make([]byte, n)
	for i := range b {
		b[i] = "ACGT"[r.next()%4]
	}
	return string(b)
}

type testRand struct{ x uint64 }

func newTestRand(seed uint64) *testRand { return &testRand{seed*2654435761 + 1} }
func (r *testRand) next() uint64 {
	r.x ^= r.x << 13
	r.x ^= r.x >> 7
	r.x ^= r.x << 17
	return r.x
}

// canonicalNameFor finds a record name whose first k blocks all hash to
// split want.
func canonicalNameFor(t *testing.T, k int, want Split) string {
	t.Helper()
	for i := range 100000 {
		name := fmt.Sprintf("c%d", i)
		ok := true
		for b := range k {
			if BlockSplit(genome.CanonicalName(name), b) != want {
				ok = false
				break
			}
		}
		if ok {
			return name
		}
	}
	t.Fatalf("no name with %d %s blocks", k, want)
	return ""
}

func TestBlockSplitRatios(t *testing.T) {
	// About 3,000 1-Mb blocks of a human genome: 90/5/5 within noise.
	var n [numSplits]int
	for c := 1; c <= 22; c++ {
		for b := range 140 {
			n[BlockSplit(fmt.Sprint(c), b)]++
		}
	}
	total := float64(n[Train] + n[Valid] + n[Test])
	for s, want := range map[Split]float64{Train: 0.9, Valid: 0.05, Test: 0.05} {
		if f := float64(n[s]) / total; f < want-0.015 || f > want+0.015 {
			t.Errorf("%s: fraction %.3f, want about %.2f", s, f, want)
		}
	}
	// Fixed values: the rule is part of the data format.
	for _, c := range []struct {
		chrom string
		block int
		want  Split
	}{{"1", 4, Test}, {"20", 2, Test}, {"chrX", 3, Test}, {"1", 0, Train}, {"chr1", 5, Train}} {
		if got := BlockSplit(c.chrom, c.block); got != c.want {
			t.Errorf("BlockSplit(%q, %d) = %v, want %v: the split rule changed", c.chrom, c.block, got, c.want)
		}
	}
}

// Windows never straddle blocks, every block's windows land in the split
// BlockSplit names, and chr-prefixed names hash like bare ones.
func TestBlockWindows(t *testing.T) {
	dir := t.TempDir()
	seq := randSeq(20*50+30, 1)
	fa := writeFASTA(t, dir, rec{"chr7", seq})
	_, rows := prepRows(t, Options{Fasta: fa, Out: filepath.Join(dir, "out"), SeqLen: 8, Block: 20})
	// Block 20 with 8-base windows: windows at block offsets 0 and 8 only.
	want := map[string][]string{}
	for b := 0; b*20 < len(seq); b++ {
		s := BlockSplit("7", b).String()
		for _, off := range []int{0, 8} {
			if p := b*20 + off; p+8 <= min((b+1)*20, len(seq)) {
				want[s] = append(want[s], seq[p:p+8])
			}
		}
	}
	for _, s := range SplitNames {
		if !slices.Equal(rows[s], want[s]) {
			t.Errorf("%s: %d rows, want %d (%q vs %q)", s, len(rows[s]), len(want[s]), rows[s], want[s])
		}
	}
}

func TestEverySplitGetsABlock(t *testing.T) {
	dir := t.TempDir()
	name := canonicalNameFor(t, 3, Train)
	seq := randSeq(3*16, 2)
	fa := writeFASTA(t, dir, rec{name, seq})
	m, rows := prepRows(t, Options{Fasta: fa, Out: filepath.Join(dir, "out"), SeqLen: 8, Block: 16})
	// Rule: valid takes the last train block (2), then test the new last (1).
	want := map[string][]string{
		"train": {seq[0:8], seq[8:16]},
		"test":  {seq[16:24], seq[24:32]},
		"valid": {seq[32:40], seq[40:48]},
	}
	for _, s := range SplitNames {
		if !slices.Equal(rows[s], want[s]) {
			t.Errorf("%s: rows %q, want %q", s, rows[s], want[s])
		}
	}
	wantFix := []Fixup{{Chrom: name, Block: 2, From: "train", To: "valid"}, {Chrom: name, Block: 1, From: "train", To: "test"}}
	if !slices.Equal(m.Fixups, wantFix) {
		t.Errorf("fixups %+v, want %+v", m.Fixups, wantFix)
	}

	// All blocks in valid: train takes the last, then test the new last.
	name = canonicalNameFor(t, 3, Valid)
	seq = randSeq(3*16, 3)
	fa = writeFASTA(t, dir, rec{name, seq})
	_, rows = prepRows(t, Options{Fasta: fa, Out: filepath.Join(dir, "out2"), SeqLen: 8, Block: 16})
	if !slices.Equal(rows["train"], []string{seq[32:40], seq[40:48]}) || len(rows["valid"]) != 2 || len(rows["test"]) != 2 {
		t.Errorf("3 valid blocks: %d/%d/%d rows", len(rows["train"]), len(rows["valid"]), len(rows["test"]))
	}

	// Two blocks: too few, nothing moves.
	name = canonicalNameFor(t, 2, Train)
	fa = writeFASTA(t, dir, rec{name, randSeq(32, 4)})
	m, rows = prepRows(t, Options{Fasta: fa, Out: filepath.Join(dir, "out3"), SeqLen: 8, Block: 16})
	if len(rows["train"]) != 4 || len(m.Fixups) != 0 {
		t.Errorf("2 blocks: train %d rows, fixups %v", len(rows["train"]), m.Fixups)
	}
}

func TestChromSplits(t *testing.T) {
	dir := t.TempDir()
	recs := []rec{{"chr1", randSeq(40, 1)}, {"chr2", randSeq(40, 2)}, {"chrX", randSeq(40, 3)}, {"chrM", randSeq(40, 4)}}
	fa := writeFASTA(t, dir, recs...)
	m, rows := prepRows(t, Options{Fasta: fa, Out: filepath.Join(dir, "out"), SeqLen: 8, ValidChroms: []string{"2"}, TestChroms: []string{"MT", "x"}})
	windows := func(seqs ...string) (out []string) {
		for _, s := range seqs {
			for p := 0; p+8 <= len(s); p += 8 {
				out = append(out, s[p:p+8])
			}
		}
		return out
	}
	want := map[string][]string{
		"train": windows(recs[0].seq),
		"valid": windows(recs[1].seq),
		"test":  windows(recs[2].seq, recs[3].seq),
	}
	for _, s := range SplitNames {
		if !slices.Equal(rows[s], want[s]) {
			t.Errorf("%s: rows %q, want %q", s, rows[s], want[s])
		}
	}
	if m.Params.SplitMode != "chroms" {
		t.Errorf("split mode %q", m.Params.SplitMode)
	}
	for _, c := range []struct {
		valid, test []string
		msg         string
	}{
		{[]string{"chr3"}, nil, `"chr3"`},
		{[]string{"2"}, []string{"chr2"}, "both"},
	} {
		out := filepath.Join(dir, "bad")
		_, err := Prep(context.Background(), Options{Fasta: fa, Out: out, SeqLen: 8, ValidChroms: c.valid, TestChroms: c.test})
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("valid %v test %v: err %v, want mention of %s", c.valid, c.test, err, c.msg)
		}
		assertNoOutput(t, out)
	}
}

// assertNoOutput checks that neither out nor a temporary directory beside
// it exists.
func assertNoOutput(t *testing.T, out string) {
	t.Helper()
	if _, err := os.Stat(out); err == nil {
		t.Errorf("%s exists after a failed prep", out)
	}
	ents, _ := os.ReadDir(filepath.Dir(out))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "."+filepath.Base(out)+".") {
			t.Errorf("leftover %s", e.Name())
		}
	}
}

func TestBEDSplits(t *testing.T) {
	dir := t.TempDir()
	s1, s2 := randSeq(100, 5), randSeq(60, 6)
	fa := writeFASTA(t, dir, rec{"chr1", s1}, rec{"chr2", s2})
	bed := filepath.Join(dir, "splits.bed")
	os.WriteFile(bed, []byte("# comment\n"+
		"chr1\t0\t20\ttrain\n"+
		"chr1\t10\t30\ttrain\n"+ // overlaps line 2, same split: merged to 0-30
		"1\t30\t47\tvalid\n"+ // touches a train interval: allowed
		"chr2\t5\t30\ttest\n"), 0o644)
	m, rows := prepRows(t, Options{Fasta: fa, Out: filepath.Join(dir, "out"), SeqLen: 8, SplitBED: bed})
	want := map[string][]string{
		"train": {s1[0:8], s1[8:16], s1[16:24]},
		"valid": {s1[30:38], s1[38:46]},
		"test":  {s2[5:13], s2[13:21], s2[21:29]},
	}
	for _, s := range SplitNames {
		if !slices.Equal(rows[s], want[s]) {
			t.Errorf("%s: rows %q, want %q", s, rows[s], want[s])
		}
	}
	if m.Params.SplitMode != "bed" || m.Params.SplitBED != bed || len(m.Params.SplitBEDSHA) != 64 {
		t.Errorf("params %+v", m.Params)
	}

	for _, c := range []struct{ bed, msg string }{
		{"chr1\t0\t20\ttrain\nchr9\t0\t20\ttest\n", ":2: unknown chromosome"},
		{"chr1\t0\t20\ttrain\nchr2\t0\t20\ttest\nchr1\t15\t40\tvalid\n", ":3: interval chr1:15-40 (valid) overlaps line 1"},
		{"chr1\t0\t20\ttrain\n\nchr2\t0\t20\tdev\n", `:3: unknown split "dev"`},
		{"chr1\t0\t200\ttrain\n", ":1: interval chr1:0-200 ends past the end"},
	} {
		os.WriteFile(bed, []byte(c.bed), 0o644)
		out := filepath.Join(dir, "bad")
		_, err := Prep(context.Background(), Options{Fasta: fa, Out: out, SeqLen: 8, SplitBED: bed})
		if err == nil || !strings.Contains(err.Error(), bed+c.msg) {
			t.Errorf("BED %q: err %v, want %q", c.bed, err, bed+c.msg)
		}
		assertNoOutput(t, out)
	}
}

func TestManifest(t *testing.T) {
	dir := t.TempDir()
	fa := writeFASTA(t, dir, rec{"chr1", randSeq(400, 7)}, rec{"chr2", strings.Repeat("N", 8) + randSeq(300, 8)})
	out := filepath.Join(dir, "out")
	// Three rows per shard: splits of more rows take several files.
	m, err := Prep(context.Background(), Options{Fasta: fa, Out: out, SeqLen: 16, Block: 64, ShardBytes: 3*16 + 5})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var j map[string]any
	if err := json.Unmarshal(raw, &j); err != nil {
		t.Fatal(err)
	}
	in, _ := os.ReadFile(fa)
	sum := sha256.Sum256(in)
	for key, want := range map[string]any{
		"tokenizer": "dna-char", "element_type": "uint8", "seq_len": 16.0, "vocab_size": 12.0,
		"pad_id": 4.0, "mask_id": 3.0, "format": "seqdiff-prep",
	} {
		if j[key] != want {
			t.Errorf("manifest %s = %v, want %v", key, j[key], want)
		}
	}
	input := j["input"].(map[string]any)
	if input["sha256"] != hex.EncodeToString(sum[:]) || input["bases"] != 708.0 {
		t.Errorf("input %v", input)
	}
	params := j["params"].(map[string]any)
	for _, k := range []string{"seq_len", "stride", "max_n", "block", "split_mode", "split_hash", "shard_bytes"} {
		if _, ok := params[k]; !ok {
			t.Errorf("params lack %s", k)
		}
	}
	splits := j["splits"].(map[string]any)
	var windows float64
	for _, s := range SplitNames {
		sp := splits[s].(map[string]any)
		for _, k := range []string{"windows", "tokens", "n_fraction", "shards"} {
			if _, ok := sp[k]; !ok {
				t.Errorf("split %s lacks %s", s, k)
			}
		}
		windows += sp["windows"].(float64)
		if sp["tokens"].(float64) != 16*sp["windows"].(float64) {
			t.Errorf("%s: tokens %v for %v windows", s, sp["tokens"], sp["windows"])
		}
		si := m.Splits[s]
		for i, sh := range si.Shards {
			if sh.File != ShardName(Split(slices.Index(SplitNames[:], s)), i) || sh.Rows > 3 {
				t.Errorf("%s shard %d: %+v", s, i, sh)
			}
		}
		if want := (si.Windows + 2) / 3; int64(len(si.Shards)) != want {
			t.Errorf("%s: %d shards for %d rows", s, len(si.Shards), si.Windows)
		}
	}
	// 400/16 = 25 windows in chr1 (blocks of 64 hold 4 each: 6 blocks of 4
	// and one of 1), 308 bases of chr2 in blocks of 64: 4+4+4+4+3, the
	// first window (8 N of 16) is kept at max-n 0.5.
	if windows != 25+19 {
		t.Errorf("%v windows, want 44", windows)
	}
	nTok := 0.0
	for _, s := range SplitNames {
		sp := splits[s].(map[string]any)
		nTok += sp["n_fraction"].(float64) * sp["tokens"].(float64)
	}
	if nTok < 7.99 || nTok > 8.01 {
		t.Errorf("N tokens %v, want 8", nTok)
	}
}

func TestOutputDir(t *testing.T) {
	dir := t.TempDir()
	fa := writeFASTA(t, dir, rec{"chr1", randSeq(200, 9)})
	out := filepath.Join(dir, "sub", "out")
	// A stale temporary directory of a killed run (no such process).
	os.MkdirAll(filepath.Join(dir, "sub", ".out.tmp-999999999"), 0o755)
	opts := Options{Fasta: fa, Out: out, SeqLen: 8}
	if _, err := Prep(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "sub"))
	if len(ents) != 1 || ents[0].Name() != "out" {
		t.Errorf("beside out: %v", ents)
	}
	// Existing: refused without Force, untouched.
	marker := filepath.Join(out, "marker")
	os.WriteFile(marker, nil, 0o644)
	if _, err := Prep(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("existing out: err %v", err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatal("refused prep touched the existing output")
	}
	opts.Force = true
	opts.SeqLen = 16
	m, err := Prep(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("forced prep kept the old directory's files")
	}
	if d, err := Open(out); err != nil || d.Manifest.SeqLen != 16 || m.SeqLen != 16 {
		t.Errorf("replaced output: %v", err)
	}
	ents, _ = os.ReadDir(filepath.Join(dir, "sub"))
	if len(ents) != 1 {
		t.Errorf("beside out after --force: %v", ents)
	}
}

func TestPrepErrors(t *testing.T) {
	dir := t.TempDir()
	fa := writeFASTA(t, dir, rec{"short", randSeq(50, 1)}, rec{"longest", randSeq(90, 2)})
	nfa := filepath.Join(dir, "n.fa")
	os.WriteFile(nfa, []byte(">allN\n"+strings.Repeat("N", 64)+"\n"), 0o644)
	bad := filepath.Join(dir, "bad.fa")
	os.WriteFile(bad, []byte(">x\nACGT\nAC*T\n"), 0o644)
	ro := filepath.Join(dir, "file")
	os.WriteFile(ro, nil, 0o644)
	for _, c := range []struct {
		opts Options
		msg  string
	}{
		{Options{Fasta: filepath.Join(dir, "missing.fa")}, "missing.fa"},
		{Options{Fasta: dir}, "is a directory"},
		{Options{Fasta: fa, SeqLen: 7}, "--seq-len 7"},
		{Options{Fasta: fa, SeqLen: 128}, "longest is longest, 90 bp"},
		{Options{Fasta: nfa, SeqLen: 8}, "no window"},
		{Options{Fasta: bad, SeqLen: 8}, bad + ":3"},
		{Options{Fasta: fa, SeqLen: 16, Block: 8}, "--block 8"},
		{Options{Fasta: fa, SeqLen: 8, MaxN: 1.5}, "--max-n"},
	} {
		c.opts.Out = filepath.Join(dir, "out")
		_, err := Prep(context.Background(), c.opts)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%+v: err %v, want %q", c.opts, err, c.msg)
		}
		assertNoOutput(t, c.opts.Out)
	}
	// An output below a regular file cannot be made: error before any work.
	_, err := Prep(context.Background(), Options{Fasta: fa, Out: filepath.Join(ro, "out"), SeqLen: 8})
	if err == nil || !strings.Contains(err.Error(), ro) {
		t.Errorf("unwritable out: err %v", err)
	}
	// A cancelled context stops the run and leaves nothing.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := filepath.Join(dir, "cancelled")
	if _, err := Prep(ctx, Options{Fasta: fa, Out: out, SeqLen: 8}); err == nil {
		t.Error("cancelled prep: no error")
	}
	assertNoOutput(t, out)
}

// Prep of a small FASTA and a look at what it wrote.
func ExamplePrep() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	fa := filepath.Join(dir, "toy.fa")
	os.WriteFile(fa, []byte(">chr1\nACGTACGTNNNNNNNNACGTNNNNGGGGCCCC\n>chr2\nTTTTAAAAGGGG\n"), 0o644)
	m, err := Prep(context.Background(), Options{
		Fasta: fa, Out: filepath.Join(dir, "prep"), SeqLen: 8,
		ValidChroms: []string{"2"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range SplitNames {
		fmt.Printf("%s: %d windows, %d shards\n", s, m.Splits[s].Windows, len(m.Splits[s].Shards))
	}
	d, _ := Open(filepath.Join(dir, "prep"))
	train, _ := d.Split("train")
	for i := range train.Rows() {
		ids := make([]int32, train.SeqLen)
		train.ReadRows(ids, i)
		s, _ := DNA{}.Decode(ids)
		fmt.Println(s)
	}
	// Output:
	// train: 3 windows, 1 shards
	// valid: 1 windows, 1 shards
	// test: 0 windows, 0 shards
	// ACGTACGT
	// ACGTNNNN
	// GGGGCCCC
}

// With FASTA.fai present, bad chromosome names and a too long --seq-len
// are found before the FASTA is read.
func TestPrecheckWithFai(t *testing.T) {
	dir := t.TempDir()
	fa := writeFASTA(t, dir, rec{"chr1", randSeq(100, 1)}, rec{"chr2", randSeq(70, 2)})
	// A stale index that disagrees with the file: the precheck trusts it,
	// which shows that it ran before the stream.
	os.WriteFile(fa+".fai", []byte("chr1\t10\t6\t60\t61\nchr2\t20\t30\t60\t61\n"), 0o644)
	out := filepath.Join(dir, "out")
	_, err := Prep(context.Background(), Options{Fasta: fa, Out: out, SeqLen: 64})
	if err == nil || !strings.Contains(err.Error(), "longest is chr2, 20 bp") {
		t.Errorf("seq-len: err %v", err)
	}
	_, err = Prep(context.Background(), Options{Fasta: fa, Out: out, SeqLen: 8, TestChroms: []string{"chr3"}})
	if err == nil || !strings.Contains(err.Error(), `"chr3"`) || !strings.Contains(err.Error(), `"chr1"`) {
		t.Errorf("unknown chrom: err %v", err)
	}
	bed := filepath.Join(dir, "s.bed")
	os.WriteFile(bed, []byte("chr1\t0\t10\ttrain\nchr2\t0\t25\ttest\n"), 0o644)
	_, err = Prep(context.Background(), Options{Fasta: fa, Out: out, SeqLen: 8, SplitBED: bed})
	if err == nil || !strings.Contains(err.Error(), bed+":2: interval chr2:0-25 ends past the end of record chr2 (20 bp)") {
		t.Errorf("BED past the end: err %v", err)
	}
	os.WriteFile(bed, []byte("chr1\t0\t10\ttrain\nchr5\t0\t5\ttest\n"), 0o644)
	_, err = Prep(context.Background(), Options{Fasta: fa, Out: out, SeqLen: 8, SplitBED: bed})
	if err == nil || !strings.Contains(err.Error(), bed+":2: unknown chromosome") {
		t.Errorf("BED unknown chrom: err %v", err)
	}
	assertNoOutput(t, out)
}

// An interrupt in the middle of a record (the context cancelled after the
// first chunk is written) stops the workers and leaves no output.
func TestPrepCancelMidway(t *testing.T) {
	dir := t.TempDir()
	fa := writeFASTA(t, dir, rec{"chr1", randSeq(64*40, 3)}, rec{"chr2", randSeq(64*10, 4)})
	out := filepath.Join(dir, "out")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	_, err := Prep(ctx, Options{Fasta: fa, Out: out, SeqLen: 8, Block: 64, Progress: func(int64) {
		calls++
		cancel()
	}})
	if err == nil || !strings.Contains(err.Error(), "canceled") {
		t.Fatalf("err %v", err)
	}
	if calls == 0 || calls > 20 {
		t.Errorf("%d progress calls before stopping", calls)
	}
	assertNoOutput(t, out)
}
