package genome

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const vcfHeader = "##fileformat=VCFv4.2\n##contig=<ID=20>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"

func TestReadVCF(t *testing.T) {
	body := vcfHeader +
		"20\t421808\t.\tA\tACCA\t.\tPASS\tVC=INDEL\n" +
		"\n" +
		"chr20\t10\trs7\tg\tC,t,<DEL>,*\t30\t.\t.\r\n" +
		"20\t12\t.\tGA\tG]17:198982],.G\t.\t.\t.\n" +
		"20\t0\t.\tN\t.\t.\t.\t.\n"
	want := []VCFRecord{
		{Chrom: "20", Pos: 421808, ID: ".", Ref: "A", Alts: []string{"ACCA"}, Line: 4},
		{Chrom: "chr20", Pos: 10, ID: "rs7", Ref: "g", Alts: []string{"C", "t", "<DEL>", "*"}, Line: 6},
		{Chrom: "20", Pos: 12, ID: ".", Ref: "GA", Alts: []string{"G]17:198982]", ".G"}, Line: 7},
		{Chrom: "20", Pos: 0, ID: ".", Ref: "N", Alts: []string{"."}, Line: 8},
	}
	dir := t.TempDir()
	for _, c := range allCompressions {
		p := writeFile(t, dir, "v."+c.String(), compress(t, []byte(body), c, 11))
		got, err := ReadVCF(p)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: got %+v\nwant %+v", c, got, want)
		}
	}
	kinds := map[string]AlleleKind{"ACCA": AlleleSeq, "t": AlleleSeq, "RYN": AlleleSeq, ".": AlleleMissing, "*": AlleleStar,
		"<DEL>": AlleleSymbolic, "<INS:ME:ALU>": AlleleSymbolic, "G]17:198982]": AlleleBreakend, "]13:123456]AGTNNNNNCA": AlleleBreakend,
		"C[2:321682[": AlleleBreakend, "[17:198983[A": AlleleBreakend, ".G": AlleleBreakend, "G.": AlleleBreakend}
	for a, k := range kinds {
		if got, err := ParseAllele(a); err != nil || got != k {
			t.Errorf("ParseAllele(%q) = %v, %v; want %v", a, got, err, k)
		}
	}
	for _, a := range []string{"", "<DEL", "<>", "G]17:1[", "]17:1]", "X", "A-C", ".", "G..", "A[1:2[C"} {
		if _, err := ParseAllele(a); err == nil && a != "." {
			t.Errorf("ParseAllele(%q) accepted", a)
		}
	}
	if got := NormaliseAllele("acRy"); got != "ACNN" {
		t.Errorf("NormaliseAllele = %q", got)
	}
}

func TestReadVCFSamples(t *testing.T) {
	p := writeFile(t, t.TempDir(), "s.vcf", []byte("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB\n1\t5\t.\tA\tC\t.\t.\t.\tGT\t0/1\t1/1\n"))
	r, err := OpenVCF(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !reflect.DeepEqual(r.Samples(), []string{"A", "B"}) || !reflect.DeepEqual(r.Meta(), []string{"fileformat=VCFv4.2"}) {
		t.Fatalf("samples %q meta %q", r.Samples(), r.Meta())
	}
	rec, err := r.Next()
	if err != nil || rec.Pos != 5 {
		t.Fatalf("%+v %v", rec, err)
	}
}

func TestReadVCFErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, body, want string
	}{
		{"empty", "", "e.vcf: empty file: no VCF header"},
		{"no #CHROM", "##fileformat=VCFv4.2\n##x=1\n", "e.vcf: no #CHROM header line in its 2 line(s); is this a VCF file?"},
		{"record before #CHROM", "##fileformat=VCFv4.2\n20\t5\t.\tA\tC\t.\t.\t.\n", "e.vcf:2: record before the #CHROM header line (line starts with '2'); is this a VCF file?"},
		{"FASTA", ">chr1\nACGT\n", "e.vcf:1: record before the #CHROM header line (line starts with '>')"},
		{"spaced #CHROM", "#CHROM POS ID REF ALT QUAL FILTER INFO\n", "e.vcf:1: the #CHROM line is separated by spaces; VCF columns are separated by tabs"},
		{"short #CHROM", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\n", "e.vcf:1: the #CHROM line has 7 column(s); want #CHROM POS ID REF ALT QUAL FILTER INFO"},
		{"misnamed column", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFOS\n", `e.vcf:1: column 8 of the #CHROM line is "INFOS", want "INFO"`},
		{"no FORMAT", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tNA1\n", `e.vcf:1: column 9 of the #CHROM line is "NA1", want "FORMAT" before the sample names`},
		{"other # line", "##a\n#comment\n", `e.vcf:2: header line "#comment" is neither a ## meta line nor the #CHROM line`},
		{"short line", vcfHeader + "20\t5\t.\tA\tC\t.\t.\n", "e.vcf:4: 7 column(s); the #CHROM line has 8"},
		{"long line", vcfHeader + "20\t5\t.\tA\tC\t.\t.\t.\tGT\n", "e.vcf:4: 9 column(s); the #CHROM line has 8"},
		{"spaces", vcfHeader + "20 5 . A C . . .\n", "e.vcf:4: 1 column(s); the #CHROM line has 8 (VCF columns are separated by tabs, not spaces)"},
		{"non-numeric POS", vcfHeader + "20\tx5\t.\tA\tC\t.\t.\t.\n", `e.vcf:4: POS "x5" is not a non-negative integer`},
		{"negative POS", vcfHeader + "20\t-5\t.\tA\tC\t.\t.\t.\n", `e.vcf:4: POS "-5" is not a non-negative integer`},
		{"huge POS", vcfHeader + "20\t2147483648\t.\tA\tC\t.\t.\t.\n", "e.vcf:4: POS 2147483648 is past the largest position a VCF holds (2147483647)"},
		{"empty CHROM", vcfHeader + "\t5\t.\tA\tC\t.\t.\t.\n", "e.vcf:4: empty CHROM"},
		{"empty ID", vcfHeader + "20\t5\t\tA\tC\t.\t.\t.\n", "e.vcf:4: empty ID (a missing ID is written '.')"},
		{"empty REF", vcfHeader + "20\t5\t.\t\tC\t.\t.\t.\n", "e.vcf:4: empty REF"},
		{"bad REF", vcfHeader + "20\t5\t.\tAU\tC\t.\t.\t.\n", `e.vcf:4: REF "AU": 'U' at position 2 is not a base (A C G T N, or an IUPAC code)`},
		{"empty ALT", vcfHeader + "20\t5\t.\tA\t\t.\t.\t.\n", "e.vcf:4: empty ALT (no alternate allele is written '.')"},
		{"empty allele", vcfHeader + "20\t5\t.\tA\tC,,G\t.\t.\t.\n", `e.vcf:4: ALT "C,,G": allele 2: empty allele`},
		{"bad ALT", vcfHeader + "20\t5\t.\tA\tC-G\t.\t.\t.\n", `e.vcf:4: ALT "C-G": allele 1: '-' at position 2 is not a base`},
		{"broken symbolic", vcfHeader + "20\t5\t.\tA\t<DEL\t.\t.\t.\n", `e.vcf:4: ALT "<DEL": allele 1: symbolic allele "<DEL" is not of the form <ID>`},
		{"dot among ALTs", vcfHeader + "20\t5\t.\tA\t.,C\t.\t.\t.\n", `e.vcf:4: ALT ".,C": '.' (no alternate allele) among other alleles`},
		{"header after records", vcfHeader + "20\t5\t.\tA\tC\t.\t.\t.\n##late\n", `e.vcf:5: header line after the #CHROM line (line starts with "##late")`},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, dir, "e.vcf", []byte(c.body))
			_, err := ReadVCF(p)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			var fe *FormatError
			if !errors.As(err, &fe) || !(errors.Is(err, ErrBadVCF) || errors.Is(err, ErrEmptyFile)) {
				t.Fatalf("error %v is not a *FormatError of a bad VCF", err)
			}
		})
	}
	// A truncated gzip names the line it cut.
	body := []byte(vcfHeader + strings.Repeat("20\t5\t.\tA\tC\t.\t.\t.\n", 5000))
	gz := compress(t, body, Gzip, 0)
	p := writeFile(t, dir, "cut.vcf.gz", gz[:len(gz)/2])
	_, err := ReadVCF(p)
	var fe *FormatError
	if !errors.Is(err, ErrTruncated) || !errors.As(err, &fe) || fe.Line < 4 || !strings.Contains(err.Error(), "cut.vcf.gz:") {
		t.Fatalf("truncated gzip: %v", err)
	}
	// A 17 MiB line is refused at the reader's 16 MiB bound.
	long := writeFile(t, dir, "long.vcf", []byte(vcfHeader+"20\t5\t.\tA\tC\t.\t.\t"+strings.Repeat("x", 17<<20)+"\n"))
	if _, err := ReadVCF(long); err == nil || !strings.HasSuffix(err.Error(), "long.vcf:4: line longer than 16 MiB") {
		t.Fatalf("long line: %v", err)
	}
	if _, err := ReadVCF(filepath.Join(dir, "missing.vcf")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := ReadVCF(dir); !errors.Is(err, ErrNotRegularFile) {
		t.Fatalf("directory: %v", err)
	}
}
