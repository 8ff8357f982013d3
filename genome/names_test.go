package genome

import (
	"errors"
	"strings"
	"testing"
)

func TestCanonicalName(t *testing.T) {
	same := [][]string{
		{"chr1", "1", "Chr1", "CHR1", " chr1 "},
		{"chrX", "X", "x", "chrx"},
		{"chrM", "chrMT", "M", "MT", "mt", "chrm"},
		{"chr22_KI270731v1_random", "22_KI270731v1_random"},
	}
	for _, group := range same {
		for _, n := range group {
			if CanonicalName(n) != CanonicalName(group[0]) {
				t.Errorf("CanonicalName(%q) = %q, want %q as for %q", n, CanonicalName(n), CanonicalName(group[0]), group[0])
			}
		}
	}
	differ := [][2]string{{"chr1", "chr10"}, {"chr1", "11"}, {"chrUn_gl000220", "GL000220.1"}, {"chr", "r"}, {"M", "chrY"}}
	for _, d := range differ {
		if CanonicalName(d[0]) == CanonicalName(d[1]) {
			t.Errorf("%q and %q should not be aliases", d[0], d[1])
		}
	}
	if CanonicalName("chr") != "CHR" {
		t.Errorf(`CanonicalName("chr") = %q`, CanonicalName("chr"))
	}
}

func TestResolveName(t *testing.T) {
	ucsc := []string{"chr1", "chr2", "chrX", "chrM"}
	ensembl := []string{"1", "2", "X", "MT"}
	cases := []struct {
		name  string
		names []string
		want  string
	}{
		{"chr1", ucsc, "chr1"},
		{"1", ucsc, "chr1"},
		{"x", ucsc, "chrX"},
		{"MT", ucsc, "chrM"},
		{"chr1", ensembl, "1"},
		{"chrM", ensembl, "MT"},
		{"chrX", ensembl, "X"},
		{"chr1", []string{"1", "chr1"}, "chr1"}, // an exact match wins
	}
	for _, tc := range cases {
		got, err := ResolveName(tc.name, tc.names)
		if err != nil || got != tc.want {
			t.Errorf("ResolveName(%q, %v) = %q, %v; want %q", tc.name, tc.names, got, err, tc.want)
		}
	}
	_, err := ResolveName("chr3", ucsc)
	if !errors.Is(err, ErrNoSuchRecord) || !strings.Contains(err.Error(), `"chr3"`) || !strings.Contains(err.Error(), `"chrX"`) {
		t.Errorf("no match: %v", err)
	}
	_, err = ResolveName("1", []string{"chr1", "Chr1"})
	if !errors.Is(err, ErrAmbiguousName) || !strings.Contains(err.Error(), `"chr1", "Chr1"`) {
		t.Errorf("ambiguous: %v", err)
	}
	many := make([]string, 30)
	for i := range many {
		many[i] = "c" + strings.Repeat("x", i)
	}
	if _, err := ResolveName("q", many); err == nil || !strings.Contains(err.Error(), "and 20 more") {
		t.Errorf("long list: %v", err)
	}
}
