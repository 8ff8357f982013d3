package dataprep

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/seqdiff/seqdiff/genome"
	"github.com/seqdiff/seqdiff/internal/testenv"
)

// sharedData returns ../shared/data beside the module root, or skips.
func sharedData(t *testing.T) string {
	t.Helper()
	dir := testenv.ModuleRoot(t)
	data := filepath.Join(dir, "..", "shared", "data")
	if _, err := os.Stat(data); err != nil {
		t.Skip("real data: ../shared/data absent")
	}
	return data
}

// GRCh37 chr20 (BGZF, 63 Mb): counts agree with a direct count of the
// windows over genome's own reading of the file.
func TestPrepChr20(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	fa := filepath.Join(sharedData(t), "genome", "grch37_chr20.fa.gz")
	if _, err := os.Stat(fa); err != nil {
		t.Skip("real data: grch37_chr20.fa.gz absent")
	}
	out := filepath.Join(t.TempDir(), "chr20")
	m, err := Prep(context.Background(), Options{Fasta: fa, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if m.Input.Bases != 63025520 || len(m.Input.Records) != 1 || m.Input.Records[0].Name != "20" {
		t.Fatalf("input %+v", m.Input)
	}

	// Independent count: 1 Mb blocks, 1024-base windows, at most 512 N.
	r, err := genome.Open(fa)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := r.Next()
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{}
	for b := 0; b*DefaultBlock < len(rec.Seq); b++ {
		end := min((b+1)*DefaultBlock, len(rec.Seq))
		for s := b * DefaultBlock; s+1024 <= end; s += 1024 {
			n := 0
			for _, c := range rec.Seq[s : s+1024] {
				if c == 'N' {
					n++
				}
			}
			if n <= 512 {
				want[BlockSplit("20", b).String()]++
			}
		}
	}
	if len(m.Fixups) != 0 {
		t.Fatalf("fixups %v on 63 blocks", m.Fixups)
	}
	d, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range SplitNames {
		if got := m.Splits[s].Windows; got != want[s] || got == 0 {
			t.Errorf("%s: %d windows, direct count %d", s, got, want[s])
		}
		if n, _ := d.Rows(s); int64(n) != want[s] {
			t.Errorf("%s: reader sees %d rows", s, n)
		}
	}
}
