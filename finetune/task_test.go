package finetune

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/genome"
)

func writeFile(t *testing.T, path, s string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// table is a TSV of n rows per label (labels given), sequences distinct.
func table(labels []string, n int) string {
	var b strings.Builder
	b.WriteString("seq\tlabel\n")
	bases := "ACGT"
	for i := range n {
		for j, l := range labels {
			s := []byte("ACGTACGT")
			s[i%8] = bases[(i/8+j)%4]
			b.WriteString(string(s) + "\t" + l + "\n")
		}
	}
	return b.String()
}

func TestLoadTSVSplitsOneFile(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, filepath.Join(dir, "promoters.tsv"), table([]string{"1", "0", "10"}, 50))
	task, err := Load(LoadOptions{Path: p})
	if err != nil {
		t.Fatal(err)
	}
	if task.Name != "promoters" || strings.Join(task.Classes, ",") != "0,1,10" {
		t.Fatalf("name %q classes %v: want promoters, numeric order 0,1,10", task.Name, task.Classes)
	}
	if len(task.Train) != 120 || len(task.Test) != 30 {
		t.Fatalf("split %d/%d, want 120/30 (80/20 of 150)", len(task.Train), len(task.Test))
	}
	per := make([]int, 3)
	for _, e := range task.Test {
		per[e.Label]++
	}
	for k, n := range per {
		if n != 10 {
			t.Fatalf("class %d has %d test rows, want 10 (stratified)", k, n)
		}
	}
	if !strings.Contains(task.Split, "seed 42") {
		t.Fatalf("split description %q does not name the seed", task.Split)
	}
	again, _ := Load(LoadOptions{Path: p})
	for i := range task.Test {
		if string(task.Test[i].Seq) != string(again.Test[i].Seq) {
			t.Fatal("the split is not deterministic")
		}
	}
}

func TestLoadCSVQuotedBOMCRLFIUPAC(t *testing.T) {
	dir := t.TempDir()
	csv := "\xEF\xBB\xBFid,\"sequence\",class\r\n" +
		"a,\"acgtRYn\",\"enhancer, strong\"\r\n" +
		"b,ACGTACGT,none\r\n" +
		"c,GGGG,none\r\n" +
		"d,TTTT,\"enhancer, strong\"\r\n"
	tr := writeFile(t, filepath.Join(dir, "train.csv"), csv)
	te := writeFile(t, filepath.Join(dir, "test.csv"), "id,sequence,class\nx,AC,none\n")
	task, err := Load(LoadOptions{Path: tr, Test: te, SeqCol: "sequence", LabelCol: "class"})
	if err != nil {
		t.Fatal(err)
	}
	if task.Split != "given" || len(task.Train) != 4 || len(task.Test) != 1 {
		t.Fatalf("split %q %d/%d", task.Split, len(task.Train), len(task.Test))
	}
	if strings.Join(task.Classes, "|") != "enhancer, strong|none" {
		t.Fatalf("classes %q", task.Classes)
	}
	// a c g t R Y n -> A C G T N N N (7 8 9 10 11 11 11)
	want := []uint8{7, 8, 9, 10, 11, 11, 11}
	if string(task.Train[0].Seq) != string(want) || task.Train[0].Label != 0 {
		t.Fatalf("row 1: %v label %d", task.Train[0].Seq, task.Train[0].Label)
	}
}

// TestReadTableInOrder: ReadTable keeps every row in file order with its
// label as written and its line, one class or many.
func TestReadTableInOrder(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, filepath.Join(dir, "t.csv"), "id,sequence,class\r\nb,acgN,\" x \"\r\na,TT,x\r\n")
	rows, err := ReadTable(p, "sequence", "class")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || string(rows[0].Seq) != string([]uint8{7, 8, 9, 11}) || rows[0].Label != "x" ||
		rows[0].Where != p+":2" || rows[1].Where != p+":3" || string(rows[1].Seq) != string([]uint8{10, 10}) {
		t.Fatalf("%+v", rows)
	}
	if _, err := ReadTable(p, "", ""); err == nil || !strings.Contains(err.Error(), `lacks column "seq" or "label"`) {
		t.Errorf("default columns: %v", err)
	}
}

func TestLoadBadRows(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, body, test, want string
	}{
		{"missingcol", "sequence\tlabel\nACGT\t1\n", "", `lacks column "seq"`},
		{"emptyseq", "seq\tlabel\nACGT\t1\n\t0\n", "", ":3: column \"seq\": empty sequence"},
		{"badchar", "seq\tlabel\nACGT\t1\nACXT\t0\n", "", `:3: column "seq": byte 2: invalid base 'X'`},
		{"emptylabel", "seq\tlabel\nACGT\t\nACGT\t0\n", "", ":2: empty label"},
		{"fields", "seq\tlabel\nACGT\t1\nACGT\n", "", "wrong number of fields"},
		{"single", "seq\tlabel\nACGT\t1\nACGA\t1\nACGG\t1\n", "", "single class"},
		{"testonly", "seq\tlabel\nACGT\t1\nACGA\t0\n", "seq\tlabel\nACGT\t2\n", `:2: label "2" appears in test but not in train`},
		{"empty", "", "", "empty file"},
		{"header only", "seq\tlabel\n", "", "no rows"},
	}
	for _, c := range cases {
		p := writeFile(t, filepath.Join(dir, c.name+".tsv"), c.body)
		o := LoadOptions{Path: p}
		if c.test != "" {
			o.Test = writeFile(t, filepath.Join(dir, c.name+"-test.tsv"), c.test)
		}
		_, err := Load(o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.name, err, c.want)
			continue
		}
		if !strings.Contains(err.Error(), ".tsv") {
			t.Errorf("%s: error %v does not name the file", c.name, err)
		}
	}
}

func TestLoadGenomicBenchmarksDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo_task")
	for split, n := range map[string]int{"train": 3, "test": 2} {
		for ci, cls := range []string{"negative", "positive"} {
			for i := range n {
				writeFile(t, filepath.Join(dir, split, cls, string(rune('0'+i))+".txt"), strings.Repeat("ACGT"[ci:ci+1], 5+i)+"\n")
			}
		}
	}
	task, err := Load(LoadOptions{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	if task.Name != "demo_task" || len(task.Train) != 6 || len(task.Test) != 4 || strings.Join(task.Classes, ",") != "negative,positive" {
		t.Fatalf("task %s: %d/%d classes %v", task.Name, len(task.Train), len(task.Test), task.Classes)
	}
	for _, e := range task.Train {
		if want := uint8(7 + e.Label); e.Seq[0] != want {
			t.Fatalf("class %d read %v", e.Label, e.Seq)
		}
	}
}

func TestLoadCoordinateFiles(t *testing.T) {
	root := t.TempDir()
	fa := writeFile(t, filepath.Join(root, "g.fa"), ">chrA\nAACCGGTTAC\nGTACGTNNAC\n>chrB\nTTTTGGGGCC\n")
	idx, err := genome.BuildFai(fa)
	if err != nil {
		t.Fatal(err)
	}
	if err := genome.WriteFai(fa+".fai", idx); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "coords")
	writeFile(t, filepath.Join(dir, "train", "positive.csv"), "id,region,start,end,strand\n1,chrA,0,4,+\n2,chrA,2,6,-\n")
	writeFile(t, filepath.Join(dir, "train", "negative.csv"), "id,region,start,end,strand\n3,chrB,0,4,+\n4,chrB,4,8,+\n")
	writeFile(t, filepath.Join(dir, "test", "positive.csv"), "id,region,start,end,strand\n5,chrA,8,12,+\n")
	writeFile(t, filepath.Join(dir, "test", "negative.csv"), "id,region,start,end,strand\n6,chrB,6,10,-\n")
	if _, err := Load(LoadOptions{Path: dir}); err == nil || !strings.Contains(err.Error(), "needs a genome FASTA") {
		t.Fatalf("no genome: %v", err)
	}
	task, err := Load(LoadOptions{Path: dir, Genome: fa})
	if err != nil {
		t.Fatal(err)
	}
	dec := func(ids []uint8) string {
		var b strings.Builder
		for _, id := range ids {
			b.WriteByte(".......ACGTN"[id])
		}
		return b.String()
	}
	var got []string
	for _, e := range append(task.Train, task.Test...) {
		got = append(got, task.Classes[e.Label]+":"+dec(e.Seq))
	}
	// chrA[2:6] = CCGG, its reverse complement CCGG; chrB[6:10] = GGCC -> GGCC.
	want := "negative:TTTT negative:GGGG positive:AACC positive:CCGG negative:GGCC positive:ACGT"
	if strings.Join(got, " ") != want {
		t.Fatalf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
	writeFile(t, filepath.Join(dir, "test", "negative.csv"), "id,region,start,end,strand\n6,chrB,6,10,x\n")
	if _, err := Load(LoadOptions{Path: dir, Genome: fa}); err == nil || !strings.Contains(err.Error(), "negative.csv:2: strand") {
		t.Fatalf("bad strand: %v", err)
	}
}

func TestSplitIndex(t *testing.T) {
	labels := make([]int, 1000)
	for i := range labels {
		labels[i] = i % 3
		if i%7 == 0 {
			labels[i] = 3 // a smaller class
		}
	}
	a := SplitIndex(labels, 0.1, 1)
	b := SplitIndex(labels, 0.1, 1)
	c := SplitIndex(labels, 0.1, 2)
	diff := 0
	held := map[int]int{}
	size := map[int]int{}
	for i := range labels {
		if a[i] != b[i] {
			t.Fatal("SplitIndex is not deterministic")
		}
		if a[i] != c[i] {
			diff++
		}
		size[labels[i]]++
		if a[i] {
			held[labels[i]]++
		}
	}
	if diff == 0 {
		t.Fatal("another seed gives the same split")
	}
	for k, n := range size {
		want := int(float64(n)*0.1 + 0.5)
		if held[k] != want {
			t.Fatalf("class %d: %d of %d held out, want %d", k, held[k], n, want)
		}
	}
	// Tiny classes keep a row on each side.
	s := SplitIndex([]string{"a", "a", "b", "b"}, 0.9, 42)
	if s[0] == s[1] || s[2] == s[3] {
		t.Fatalf("tiny classes: %v", s)
	}
}

func TestHumanOrWorm(t *testing.T) {
	var b strings.Builder
	n, err := HumanOrWorm(&b, HumanOrWormOptions{PerClass: 50, Len: 200, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if n != 100 {
		t.Fatalf("%d rows", n)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	count := map[string]int{}
	for _, l := range lines[1:] {
		seq, label, _ := strings.Cut(l, "\t")
		if len(seq) != 200 || strings.Trim(seq, "ACGT") != "" {
			t.Fatalf("window %q", seq)
		}
		count[label]++
	}
	if count["human"] != 50 || count["worm"] != 50 {
		t.Fatalf("classes %v", count)
	}
	var b2 strings.Builder
	HumanOrWorm(&b2, HumanOrWormOptions{PerClass: 50, Len: 200, Seed: 3})
	if b2.String() != b.String() {
		t.Fatal("not deterministic")
	}
	if _, err := HumanOrWorm(&b2, HumanOrWormOptions{PerClass: 100000}); err == nil {
		t.Fatal("more windows than the slices hold: no error")
	}
}
