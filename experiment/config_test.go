package experiment

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/seqdiff/seqdiff/evaluate"
)

// TestBidirectionalKey: baseline.bidirectional defaults to 5 without
// changing the stamp of a config that does not set it (so existing study
// directories resume), 0 turns the floor off, and M past the maximum is
// refused naming the file.
func TestBidirectionalKey(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		body  string
		want  int
		stamp bool // the stamp mentions the key
		err   string
	}{
		{"name: x\n", DefaultBidirectional, false, ""},
		{"baseline:\n  bidirectional: 0\n", 0, true, ""},
		{"baseline:\n  bidirectional: 3\n", 3, true, ""},
		{"baseline:\n  bidirectional: 7\n", 0, false, "baseline bidirectional 7 outside 0..6"},
		{"baseline:\n  bidirectional: -1\n", 0, false, "baseline bidirectional -1"},
	} {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, []byte(c.body), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := ReadConfig(p)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), p) {
				t.Errorf("%q: error %v, want %q", c.body, err, c.err)
			}
			continue
		}
		if err != nil || cfg.BidirOrder() != c.want {
			t.Errorf("%q: M %d (%v), want %d", c.body, cfg.BidirOrder(), err, c.want)
		}
		b, _ := yaml.Marshal(cfg)
		if strings.Contains(string(b), "bidirectional") != c.stamp {
			t.Errorf("%q: the stamp mentions bidirectional: %v, want %v", c.body, !c.stamp, c.stamp)
		}
	}
}

// TestFloorSentence: the report says on which side of the floor an MDLM
// lies, and compares only reports scored alike.
func TestFloorSentence(t *testing.T) {
	md := evaluate.Report{Mode: "mdlm", Split: "test", NLLPerToken: 1.30, Bound: true, Draws: 4, Tokens: 1000, Rows: 10}
	fl := md
	fl.Mode, fl.NLLPerToken, fl.KmerOrder = evaluate.KmerBidirMode, 1.3146, 5
	if s := floorSentence("mdlm", md, fl); !strings.Contains(s, "is below the bidirectional k-mer floor (1.3146") || !strings.Contains(s, "by 0.0146: it has learned more than") {
		t.Errorf("below: %s", s)
	}
	md.NLLPerToken = 1.35
	if s := floorSentence("mdlm", md, fl); !strings.Contains(s, "is not below") || !strings.Contains(s, "0.0354 above it") {
		t.Errorf("above: %s", s)
	}
	md.Draws = 2
	if s := floorSentence("mdlm", md, fl); !strings.Contains(s, "not compared") {
		t.Errorf("other draws: %s", s)
	}
}
