package genome

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// FuzzVCF: no input makes the VCF reader panic; every error names the
// file (a *FormatError also a line inside it); the plain, gzip and BGZF
// copies of a file (BGZF in 7-byte blocks, so that lines straddle blocks)
// read the same; and what is accepted holds the reader's promises (a
// CHROM without white space, 0 <= POS <= VCFMaxPos, an ID, a REF of bases,
// ALT alleles that ParseAllele accepts, '.' only alone, lines increasing
// inside the file) and, written back as a sites-only VCF, reads the same.
//
//	go test -run '^$' -fuzz FuzzVCF -fuzztime 10m -parallel 1 ./genome
func FuzzVCF(f *testing.F) {
	const hdr = "##fileformat=VCFv4.2\n##contig=<ID=20,length=63025520>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
	f.Add([]byte(hdr + "20\t421808\t.\tA\tACCA\t.\tPASS\tVC=INDEL;AC=24\n20\t1600125\trs1\tGAA\tG\t50\t.\t.\n"))
	f.Add([]byte(hdr + "chr20\t10\t.\tA\tC,G,T\t.\t.\t.\n20\t11\t.\tC\t<DEL>,*\t.\t.\tSVTYPE=DEL\n20\t12\t.\tG\tG]17:198982],.G,G.\t.\t.\t.\n"))
	f.Add([]byte("##fileformat=VCFv4.2\r\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tNA1\tNA2\r\n1\t5\t.\tacgtn\tRYK\t.\t.\t.\tGT\t0/1\t1/1\r\n\r\n"))
	f.Add([]byte("\xEF\xBB\xBF#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\t0\t.\tN\t.\t.\t.\t.\n"))
	f.Add([]byte(hdr + "20\tx\t.\tA\tC\t.\t.\t.\n"))
	f.Add([]byte(hdr + "20\t-5\t.\tA\tC\t.\t.\t.\n"))
	f.Add([]byte(hdr + "20\t99999999999999999999\t.\tA\tC\t.\t.\t.\n"))
	f.Add([]byte(hdr + "20\t5\t.\t\tC\t.\t.\t.\n"))
	f.Add([]byte(hdr + "20\t5\t.\tA\t\t.\t.\t.\n"))
	f.Add([]byte(hdr + "20\t5\t.\tA\tC,,G\t.\t.\t.\n"))
	f.Add([]byte(hdr + "20\t5\t.\tA\tC\t.\t.\n"))
	f.Add([]byte(hdr + "20 5 . A C . . .\n"))
	f.Add([]byte(hdr + "20\t5\t.\tA\tC\t.\t.\t.\n##late=1\n"))
	f.Add([]byte("##fileformat=VCFv4.2\n20\t5\t.\tA\tC\t.\t.\t.\n"))
	f.Add([]byte("#CHROM POS ID REF ALT QUAL FILTER INFO\n"))
	f.Add([]byte("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\n"))
	f.Add([]byte(hdr + "20\t5\t.\tA\t<DEL\t.\t.\t.\n20\t5\t.\tA\tA[1:2\t.\t.\t.\n"))
	f.Add([]byte(hdr + "20\t5\t.\tU\tC\t.\t.\t.\n"))
	f.Add([]byte(hdr + "2 0\t5\t.\tA\tC\t.\t.\t.\n"))
	f.Add([]byte(hdr + "20\t5\t.\tA\t.,C\t.\t.\t.\n"))
	f.Add([]byte(hdr))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		p := writeFile(t, dir, "f.vcf", data)
		got, err := ReadVCF(p)
		checkVCFErr(t, p, data, err)
		if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
			return // a gzip-looking file: only the error rules apply
		}
		for _, c := range []Compression{Gzip, BGZF} {
			z := quickGzip(data, 7)
			if c == BGZF {
				z = quickBGZF(data, 7)
			}
			pc := writeFile(t, dir, "f.vcf."+c.String(), z)
			gotC, errC := ReadVCF(pc)
			checkVCFErr(t, pc, data, errC)
			if (err == nil) != (errC == nil) {
				t.Fatalf("plain: %v; %s: %v", err, c, errC)
			}
			if err != nil {
				var fe, feC *FormatError
				if errors.As(err, &fe) && errors.As(errC, &feC) && (fe.Line != feC.Line || fe.Msg != feC.Msg) {
					t.Fatalf("plain: %v; %s: %v", err, c, errC)
				}
				continue
			}
			if !reflect.DeepEqual(got, gotC) {
				t.Fatalf("plain %+v, %s %+v", got, c, gotC)
			}
		}
		if err != nil {
			return
		}
		lines, prev := bytes.Count(data, []byte{'\n'})+1, 0
		var b strings.Builder
		b.WriteString("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
		for i, rec := range got {
			checkVCFRecord(t, rec)
			if rec.Line <= prev || rec.Line > lines {
				t.Fatalf("record %+v after line %d of %d", rec, prev, lines)
			}
			prev = rec.Line
			got[i].Line = 0
			b.WriteString(rec.Chrom + "\t" + strconv.Itoa(rec.Pos) + "\t" + rec.ID + "\t" + rec.Ref + "\t" + strings.Join(rec.Alts, ",") + "\t.\t.\t.\n")
		}
		again, err := ReadVCF(writeFile(t, dir, "again.vcf", []byte(b.String())))
		for i := range again {
			again[i].Line = 0
		}
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("written back as\n%q\nreads %+v, %v\nwant %+v", b.String(), again, err, got)
		}
	})
}

// quickGzip is data as one gzip member of stored deflate blocks of block
// bytes each: cheap enough to run on every fuzz input (compress/gzip's
// writer allocates about a megabyte each time).
func quickGzip(data []byte, block int) []byte {
	out := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}
	for p := 0; p == 0 || p < len(data); p += block {
		chunk := data[p:min(p+block, len(data))]
		final := byte(0)
		if p+block >= len(data) {
			final = 1
		}
		out = append(out, final, byte(len(chunk)), byte(len(chunk)>>8), ^byte(len(chunk)), ^byte(len(chunk)>>8))
		out = append(out, chunk...)
	}
	out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(data))
	return binary.LittleEndian.AppendUint32(out, uint32(len(data)))
}

// checkVCFRecord holds an accepted record to the reader's promises.
func checkVCFRecord(t *testing.T, rec VCFRecord) {
	t.Helper()
	if rec.Chrom == "" || strings.ContainsAny(rec.Chrom, " \t\r\n\v\f") || rec.Pos < 0 || rec.Pos > VCFMaxPos ||
		rec.ID == "" || strings.ContainsAny(rec.ID, "\t\n") || rec.Ref == "" || len(rec.Alts) == 0 {
		t.Fatalf("accepted record %+v", rec)
	}
	if !IsNormalised([]byte(NormaliseAllele(rec.Ref))) || len(NormaliseAllele(rec.Ref)) != len(rec.Ref) {
		t.Fatalf("accepted REF %q normalises to %q", rec.Ref, NormaliseAllele(rec.Ref))
	}
	for _, a := range rec.Alts {
		k, err := ParseAllele(a)
		if err != nil {
			t.Fatalf("accepted ALT %q: %v", a, err)
		}
		if k == AlleleMissing && len(rec.Alts) > 1 {
			t.Fatalf("accepted '.' among ALTs %q", rec.Alts)
		}
		if k == AlleleSeq && !IsNormalised([]byte(NormaliseAllele(a))) {
			t.Fatalf("accepted sequence ALT %q normalises to %q", a, NormaliseAllele(a))
		}
		if strings.ContainsAny(a, ",\t\n") {
			t.Fatalf("accepted ALT %q", a)
		}
	}
}

// checkVCFErr holds an error of ReadVCF(p) to the rules: it names p, and a
// *FormatError of a plain file is ErrBadVCF or ErrEmptyFile at line 0 (the
// file as a whole) or a line of the file.
func checkVCFErr(t *testing.T, p string, data []byte, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if !strings.Contains(err.Error(), p) {
		t.Fatalf("error %q does not name %s", err, p)
	}
	var fe *FormatError
	if errors.As(err, &fe) && !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		lines := bytes.Count(data, []byte{'\n'}) + 1
		if !(errors.Is(err, ErrBadVCF) || errors.Is(err, ErrEmptyFile)) || fe.Path != p || fe.Line < 0 || fe.Line > lines {
			t.Fatalf("error %v: want ErrBadVCF at a line 0..%d of %s", err, lines, p)
		}
	}
}
