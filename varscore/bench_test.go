package varscore

import (
	"context"
	"testing"

	"github.com/seqdiff/seqdiff/compute/cpu"
	"github.com/seqdiff/seqdiff/genome"
	"github.com/seqdiff/seqdiff/nn"
)

// BenchmarkScore scores 64 SNVs (one ALT each) with a freshly initialised
// dna-small model in windows of 256: go test -bench Score -run '^$' ./varscore
func BenchmarkScore(b *testing.B) {
	for _, mode := range []string{nn.ModeAR, nn.ModeMDLM} {
		b.Run(mode, func(b *testing.B) {
			cfg, _ := nn.Preset("dna-small", mode)
			m, err := nn.New(cpu.New(0), cfg)
			if err != nil {
				b.Fatal(err)
			}
			m.Init(1)
			seq := randomBases(100000, 1)
			s, _ := New(m, memRef(map[string][]byte{"1": seq}, "1"), Options{Window: 256})
			var recs []genome.VCFRecord
			for i := range 64 {
				p := 1000 + 1500*i
				recs = append(recs, genome.VCFRecord{Chrom: "1", Pos: p, Ref: string(seq[p-1]), Alts: []string{"N"}})
			}
			b.ResetTimer()
			for range b.N {
				if _, err := s.Score(context.Background(), recs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "variants/s")
		})
	}
}
