package genome

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestReadBED(t *testing.T) {
	in := "# comment\ntrack name=x\nbrowser position chr1:1-10\n\nchr1\t0\t10\nchr2\t5\t5\tpeak1\t900\t+\r\n1 7 9 spaced\ntracks\t1\t2\n"
	for _, c := range []Compression{Plain, Gzip} {
		p := writeFile(t, t.TempDir(), "x.bed", compress(t, []byte(in), c, 0))
		got, err := ReadBED(p)
		if err != nil {
			t.Fatal(err)
		}
		want := []Interval{
			{"chr1", 0, 10, nil, 5},
			{"chr2", 5, 5, []string{"peak1", "900", "+"}, 6},
			{"1", 7, 9, []string{"spaced"}, 7},
			{"tracks", 1, 2, nil, 8}, // "tracks" is a chrom, not a track line
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: got %+v\nwant %+v", c, got, want)
		}
		if got[0].Len() != 10 {
			t.Fatalf("Len = %d", got[0].Len())
		}
	}
}

func TestReadBEDErrors(t *testing.T) {
	cases := []struct {
		name, in string
		line     int
		msg      string
	}{
		{"two columns", "chr1\t0\t10\nchr1\t5\n", 2, "2 column(s)"},
		{"non-integer start", "chr1\tx\t10\n", 1, `start "x" is not an integer`},
		{"float end", "#h\nchr1\t1\t2.5\n", 2, `end "2.5" is not an integer`},
		{"negative", "chr1\t-1\t10\n", 1, "start -1 is negative"},
		{"start after end", "chr1\t1\t2\nchr1\t20\t10\n", 2, "start 20 is after end 10"},
		{"empty chrom", "\t1\t2\n", 1, "empty chrom"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "x.bed", []byte(tc.in))
			_, err := ReadBED(p)
			var fe *FormatError
			if !errors.Is(err, ErrBadBED) || !errors.As(err, &fe) || fe.Line != tc.line || fe.Path != p || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want line %d and %q", err, tc.line, tc.msg)
			}
		})
	}
	if _, err := ReadBED(t.TempDir()); !errors.Is(err, ErrNotRegularFile) {
		t.Fatalf("directory: %v", err)
	}
}
