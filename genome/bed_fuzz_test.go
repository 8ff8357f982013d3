package genome

import (
	"bytes"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// FuzzBED: no input makes ReadBED panic; every error names the file (a
// *FormatError also a line inside it); the plain and the gzip copy of a
// file read the same; and what is accepted holds 0 <= start <= end on a
// named chrom and writes back as BED that reads to the same intervals.
//
//	go test -run '^$' -fuzz FuzzBED -fuzztime 10m -parallel 1 ./genome
func FuzzBED(f *testing.F) {
	f.Add([]byte("# comment\ntrack name=x\nbrowser position chr1:1-10\n\nchr1\t0\t10\nchr2\t5\t5\tpeak1\t900\t+\r\n1 7 9 spaced\n"))
	f.Add([]byte("chr1\t0\t10\ttrain\nchr1\t10\t20\tvalid\nchr2\t0\t5\ttest\n"))
	f.Add([]byte("\xEF\xBB\xBFchr1\t0\t10\n"))
	f.Add([]byte("chr1\t-1\t10\n"))
	f.Add([]byte("chr1\t20\t10\n"))
	f.Add([]byte("chr1\t0\n"))
	f.Add([]byte("\t1\t2\n"))
	f.Add([]byte("chr1\t+5\t0x10\n"))
	f.Add([]byte("chr1\t1\t99999999999999999999\n"))
	f.Add([]byte("track\t1\t2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		p := writeFile(t, dir, "f.bed", data)
		got, err := ReadBED(p)
		checkBEDErr(t, p, data, err)
		if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
			return // a gzip-looking file: only the error rules apply
		}
		gz := writeFile(t, dir, "f.bed.gz", compress(t, data, Gzip, 0))
		gotGz, errGz := ReadBED(gz)
		checkBEDErr(t, gz, data, errGz)
		if (err == nil) != (errGz == nil) {
			t.Fatalf("plain: %v; gzip: %v", err, errGz)
		}
		if err != nil {
			var fe, feGz *FormatError
			if errors.As(err, &fe) && errors.As(errGz, &feGz) && (fe.Line != feGz.Line || fe.Msg != feGz.Msg) {
				t.Fatalf("plain: %v; gzip: %v", err, errGz)
			}
			return
		}
		if !reflect.DeepEqual(got, gotGz) {
			t.Fatalf("plain %+v, gzip %+v", got, gotGz)
		}
		var b strings.Builder
		lines, prev := bytes.Count(data, []byte{'\n'})+1, 0
		for i, iv := range got {
			if iv.Chrom == "" || iv.Start < 0 || iv.Start > iv.End || iv.Len() < 0 {
				t.Fatalf("accepted interval %+v", iv)
			}
			if iv.Line <= prev || iv.Line > lines {
				t.Fatalf("interval %+v after line %d of %d", iv, prev, lines)
			}
			prev = iv.Line
			got[i].Line = 0 // the written-back file has no comments: other lines
			if iv.Fields != nil && len(iv.Fields) == 0 {
				t.Fatalf("interval %+v: empty, non-nil Fields", iv)
			}
			b.WriteString(iv.Chrom + "\t" + strconv.Itoa(iv.Start) + "\t" + strconv.Itoa(iv.End))
			for _, fld := range iv.Fields {
				b.WriteString("\t" + fld)
			}
			b.WriteString("\n")
		}
		again, err := ReadBED(writeFile(t, dir, "again.bed", []byte(b.String())))
		for i := range again {
			again[i].Line = 0
		}
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("written back as\n%q\nreads %+v, %v\nwant %+v", b.String(), again, err, got)
		}
	})
}

// checkBEDErr holds an error of ReadBED(p) to the rules: it names p, and a
// *FormatError is ErrBadBED on a line of the file.
func checkBEDErr(t *testing.T, p string, data []byte, err error) {
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
		if !errors.Is(err, ErrBadBED) || fe.Path != p || fe.Line < 1 || fe.Line > lines {
			t.Fatalf("error %v: want ErrBadBED at a line 1..%d of %s", err, lines, p)
		}
	}
}
