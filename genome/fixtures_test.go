package genome

import (
	"fmt"
	"os"
	"testing"
)

// TestFixtures reads the files in testdata: MT-human.fa.bgz is the human
// mitochondrial genome (from ../shared/data, bgzipped) with the .fai and
// .gzi that samtools faidx wrote.
func TestFixtures(t *testing.T) {
	want := map[string][]string{
		"testdata/mixed.fa":        {"chr1:33", "chr2:7", "chrM:5"},
		"testdata/crlf.fa":         {"seq1:6", "seq2:4"},
		"testdata/MT-human.fa.bgz": {"MT_human:16569"},
	}
	for path, recs := range want {
		got, err := readAll(path)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, r := range got {
			names = append(names, fmt.Sprintf("%s:%d", r.Name, len(r.Seq)))
			if !IsNormalised(r.Seq) {
				t.Errorf("%s: %s not normalised", path, r.Name)
			}
		}
		if fmt.Sprint(names) != fmt.Sprint(recs) {
			t.Errorf("%s: records %v, want %v", path, names, recs)
		}
	}
	got, _ := readAll("testdata/mixed.fa")
	if s := string(got[0].Seq); s != "ACGTACGTACGTACGTNNNNNNNNNNNNNNNNN" {
		t.Errorf("chr1 = %s", s)
	}

	const mt = "testdata/MT-human.fa.bgz"
	idx, err := BuildFai(mt)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := WriteFai(dir+"/x.fai", idx); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(dir + "/x.fai")
	b, _ := os.ReadFile(mt + ".fai")
	if string(a) != string(b) {
		t.Fatalf("BuildFai %q, samtools %q", a, b)
	}
	gzi, err := BuildGzi(mt)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteGzi(dir+"/x.gzi", gzi); err != nil {
		t.Fatal(err)
	}
	a, _ = os.ReadFile(dir + "/x.gzi")
	b, _ = os.ReadFile(mt + ".gzi")
	if string(a) != string(b) {
		t.Fatalf("BuildGzi %x, samtools %x", a, b)
	}
	checkFetchAll(t, mt)
}
