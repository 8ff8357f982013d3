package genome

import (
	"reflect"
	"testing"
)

// A BED file saved by a Windows editor: a UTF-8 byte order mark and CRLF
// line ends read as the plain file does (the mark used to become part of
// the first chrom name, "\ufeffchr1").
func TestReadBEDByteOrderMarkCRLF(t *testing.T) {
	dir := t.TempDir()
	plain, err := ReadBED(writeFile(t, dir, "plain.bed", []byte("chr1\t0\t10\ttrain\nchr2\t5\t9\ttest\n")))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []Compression{Plain, Gzip} {
		p := writeFile(t, dir, "win.bed", compress(t, []byte("\xEF\xBB\xBFchr1\t0\t10\ttrain\r\nchr2\t5\t9\ttest\r\n"), c, 0))
		got, err := ReadBED(p)
		if err != nil || !reflect.DeepEqual(got, plain) {
			t.Fatalf("%s: %+v, %v; want %+v", c, got, err, plain)
		}
	}
	// Only a mark that opens the file is dropped; on a later line it is part
	// of that chrom name.
	got, err := ReadBED(writeFile(t, dir, "mid.bed", []byte("chr1\t0\t10\n\xEF\xBB\xBFchr2\t0\t5\n")))
	if err != nil || got[1].Chrom != "\ufeffchr2" {
		t.Fatalf("mark on line 2: %+v, %v", got, err)
	}
}
