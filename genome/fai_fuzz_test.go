package genome

import (
	"bytes"
	"strings"
	"testing"
)

// faiFuzzFASTA is the FASTA that FuzzFaiIndex's index files describe (or
// lie about): two records, wrapped at 8 and at 5 bases.
const faiFuzzFASTA = ">a desc\nACGTACGT\nACGTAC\n>b\nGGGCC\nTTN\n"

// FuzzFaiIndex: no .fai (and, for the BGZF copy, no .gzi) makes opening
// or fetching panic or allocate past the file; errors name the file; a
// fetch that succeeds returns exactly the bases asked for, from A C G T N;
// and with the true index every fetch equals the streamed record.
//
//	go test -run '^$' -fuzz FuzzFaiIndex -fuzztime 10m -parallel 1 ./genome
func FuzzFaiIndex(f *testing.F) {
	f.Add([]byte("a\t14\t8\t8\t9\nb\t8\t27\t5\t6\n"), []byte{}, false, uint16(2), uint16(9))
	f.Add([]byte("a\t14\t8\t8\t9\nb\t8\t27\t5\t6\n"), []byte{}, true, uint16(0), uint16(14))
	f.Add([]byte("a\t9223372036854775807\t8\t8\t9\n"), []byte{}, false, uint16(0), uint16(8))
	f.Add([]byte("a\t4611686018427387904\t8\t1\t2\nb\t8\t0\t5\t6\n"), []byte{}, false, uint16(0), uint16(8))
	f.Add([]byte("a\t14\t8\t8\t10\nb\t8\t34\t5\t6\n"), []byte{}, false, uint16(0), uint16(14))
	f.Add([]byte("a\t14\t8\t8\t9\n"), []byte("\x01\x00\x00\x00\x00\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00\x20\x00\x00\x00\x00\x00\x00\x00"), true, uint16(0), uint16(3))
	f.Fuzz(func(t *testing.T, fai, gzi []byte, bgzf bool, start, end uint16) {
		dir := t.TempDir()
		data := []byte(faiFuzzFASTA)
		if bgzf {
			data = quickBGZF(data, 16)
		}
		p := writeFile(t, dir, "g.fa", data)
		writeFile(t, dir, "g.fa.fai", fai)
		if bgzf && len(gzi) > 0 {
			writeFile(t, dir, "g.fa.gzi", gzi)
		} else if bgzf {
			// No .gzi given: the true one, so the .fai is what is fuzzed.
			idx, err := BuildGzi(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := WriteGzi(p+".gzi", idx); err != nil {
				t.Fatal(err)
			}
		}
		exact := bytes.Equal(fai, []byte("a\t14\t8\t8\t9\nb\t8\t27\t5\t6\n")) && (!bgzf || len(gzi) == 0)
		x, err := OpenIndexed(p)
		if err != nil {
			if exact {
				t.Fatalf("true index: %v", err)
			}
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error %q does not name %s", err, p)
			}
			return
		}
		defer x.Close()
		truth := map[string]string{"a": "ACGTACGTACGTAC", "b": "GGGCCTTN"}
		for _, e := range x.Index() {
			s, n := int(start), int(end)
			if int64(n) > e.Length {
				n = int(e.Length)
			}
			if s > n {
				s = n
			}
			got, err := x.Fetch(e.Name, s, n)
			if err != nil {
				if exact {
					t.Fatalf("true index: fetch %s:%d-%d: %v", e.Name, s, n, err)
				}
				if !strings.Contains(err.Error(), p) {
					t.Fatalf("fetch %s: error %q does not name %s", e.Name, err, p)
				}
				continue
			}
			if len(got) != n-s || !IsNormalised(got) {
				t.Fatalf("fetch %s:%d-%d = %q", e.Name, s, n, got)
			}
			if exact && string(got) != truth[e.Name][s:n] {
				t.Fatalf("true index: fetch %s:%d-%d = %q, want %q", e.Name, s, n, got, truth[e.Name][s:n])
			}
		}
	})
}
