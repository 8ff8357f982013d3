package finetune

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/seqdiff/seqdiff/internal/testenv"
)

// sharedData finds ../shared/data beside the module root, or skips.
func sharedData(t *testing.T) string {
	t.Helper()
	dir := testenv.ModuleRoot(t)
	p := filepath.Join(dir, "..", "shared", "data", "benchmarks")
	if _, err := os.Stat(p); err != nil {
		t.Skip("benchmark tasks: ../shared/data absent")
	}
	return p
}

// TestLoadSharedBenchmarks reads the two Genomic Benchmarks test splits in
// ../shared/data and splits each 80/20 by the documented rule.
func TestLoadSharedBenchmarks(t *testing.T) {
	dir := sharedData(t)
	for _, c := range []struct {
		name      string
		rows, len int
	}{{"human_enhancers_cohn", 6948, 500}, {"human_nontata_promoters", 9034, 251}} {
		task, err := Load(LoadOptions{Path: filepath.Join(dir, c.name+".tsv")})
		if err != nil {
			t.Fatal(err)
		}
		n := len(task.Train) + len(task.Test)
		if n != c.rows || len(task.Classes) != 2 || task.Classes[0] != "0" || task.Name != c.name {
			t.Fatalf("%s: %d rows, classes %v", c.name, n, task.Classes)
		}
		if d := float64(len(task.Test))/float64(n) - TestFrac; d > 0.001 || d < -0.001 {
			t.Fatalf("%s: test fraction %d/%d", c.name, len(task.Test), n)
		}
		if l := len(task.Train[0].Seq); l != c.len {
			t.Fatalf("%s: sequence length %d, want %d", c.name, l, c.len)
		}
	}
}
