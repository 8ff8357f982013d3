package dataprep

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/vocab"
)

// smallPrep preps 3 records into about 60 rows of 16 and returns the train
// split.
func smallPrep(t *testing.T) (string, *SplitData) {
	t.Helper()
	dir := t.TempDir()
	fa := writeFASTA(t, dir, rec{"chr1", randSeq(600, 11)}, rec{"chr2", randSeq(500, 12)}, rec{"chr3", randSeq(300, 13)})
	out := filepath.Join(dir, "out")
	if _, err := Prep(context.Background(), Options{Fasta: fa, Out: out, SeqLen: 16, ValidChroms: []string{"chr3"}, ShardBytes: 16 * 10}); err != nil {
		t.Fatal(err)
	}
	d, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	s, err := d.Split("train")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := d.Rows("train"); n != s.Rows() || n != 600/16+500/16 {
		t.Fatalf("train rows %d / %d", n, s.Rows())
	}
	return out, s
}

func batches(t *testing.T, s *SplitData, opts LoaderOptions, n int) ([][]int32, []Cursor) {
	t.Helper()
	l, err := s.NewLoader(opts)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]int32
	var curs []Cursor
	for range n {
		b := make([]int32, opts.Batch*s.SeqLen)
		if err := l.Next(b); err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
		curs = append(curs, l.Cursor())
	}
	return out, curs
}

func TestLoaderDeterminismAndResume(t *testing.T) {
	_, s := smallPrep(t)
	opts := LoaderOptions{Batch: 5, Seed: 42, RC: true}
	a, curs := batches(t, s, opts, 40) // 200 rows: several epochs of 68
	b, _ := batches(t, s, opts, 40)
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			t.Fatalf("same seed, batch %d differs", i)
		}
	}
	opts2 := opts
	opts2.Seed = 43
	c, _ := batches(t, s, opts2, 1)
	if slices.Equal(a[0], c[0]) {
		t.Error("seeds 42 and 43 give the same first batch")
	}
	// Resume from the cursor after batch 6 and after batch 13 (mid-epoch:
	// 70 rows, the epoch boundary at 68 is inside batch 13).
	for _, at := range []int{6, 13, 27} {
		o := opts
		o.Cursor = curs[at]
		r, _ := batches(t, s, o, 40-at-1)
		for i := range r {
			if !slices.Equal(r[i], a[at+1+i]) {
				t.Fatalf("resumed at %+v: batch %d differs", curs[at], at+1+i)
			}
		}
	}
	if curs[13].Epoch != 1 || curs[13].Position != 70-68 {
		t.Errorf("cursor after 70 rows of 68: %+v", curs[13])
	}
}

// Without augmentation an epoch visits every row exactly once; with it,
// each row is the stored row or its reverse complement, and both occur.
func TestLoaderEpochAndRC(t *testing.T) {
	_, s := smallPrep(t)
	L, n := s.SeqLen, s.Rows()
	key := func(r []int32) string {
		b := make([]byte, len(r))
		for i, v := range r {
			b[i] = byte(v)
		}
		return string(b)
	}
	stored := map[string]int{}
	rcOf := map[string]string{}
	for i := range n {
		r := make([]int32, L)
		toInt32(r, s.Row(i))
		stored[key(r)]++
		rc := slices.Clone(r)
		vocab.ReverseComplement(rc)
		rcOf[key(r)] = key(rc)
	}
	plain, _ := batches(t, s, LoaderOptions{Batch: 1, Seed: 7}, n)
	seen := map[string]int{}
	for _, b := range plain {
		seen[key(b)]++
	}
	for k, c := range stored {
		if seen[k] != c {
			t.Fatalf("epoch visits a row %d times, stored %d times", seen[k], c)
		}
	}
	aug, _ := batches(t, s, LoaderOptions{Batch: 1, Seed: 7, RC: true}, n)
	flipped := 0
	for i := range aug {
		p, a := key(plain[i]), key(aug[i])
		switch a {
		case p:
		case rcOf[p]:
			flipped++
		default:
			t.Fatalf("row %d is neither the stored row nor its reverse complement", i)
		}
	}
	if flipped < n/4 || flipped > 3*n/4 {
		t.Errorf("%d of %d rows reverse-complemented", flipped, n)
	}
	if _, err := s.NewLoader(LoaderOptions{Batch: 1, Cursor: Cursor{Position: int64(n + 1)}}); err == nil {
		t.Error("cursor past the end: no error")
	}
}

func TestReadRows(t *testing.T) {
	_, s := smallPrep(t)
	L, n := s.SeqLen, s.Rows()
	dst := make([]int32, 8*L)
	var got []int32
	for start := 0; start < n; start += 8 {
		k := s.ReadRows(dst, start)
		if k != min(8, n-start) {
			t.Fatalf("ReadRows at %d: %d rows", start, k)
		}
		got = append(got, dst[:k*L]...)
		for _, v := range dst[k*L:] {
			if v != vocab.Pad {
				t.Fatal("rows past the end are not PAD")
			}
		}
	}
	for i := range n {
		for j, v := range s.Row(i) {
			if got[i*L+j] != int32(v) {
				t.Fatalf("row %d differs", i)
			}
		}
	}
	var again []int32
	for k, b := range s.Batches(8) {
		again = append(again, b[:k*L]...)
	}
	if !slices.Equal(again, got) {
		t.Error("Batches differs from ReadRows")
	}
}

func TestOpenValidates(t *testing.T) {
	out, _ := smallPrep(t)
	shard := filepath.Join(out, "train-00001.bin")
	f, _ := os.OpenFile(shard, os.O_WRONLY, 0)
	f.WriteAt([]byte{200}, 17)
	f.Close()
	d, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Split("train"); err == nil || !strings.Contains(err.Error(), "id 200") {
		t.Errorf("bad id: err %v", err)
	}
	fi, err := os.Stat(shard)
	if err != nil {
		t.Fatal(err)
	}
	os.Truncate(shard, fi.Size()-1)
	if _, err := Open(out); err == nil || !strings.Contains(err.Error(), "train-00001.bin") {
		t.Errorf("truncated shard: err %v", err)
	}
	os.Remove(shard)
	if _, err := Open(out); err == nil || !strings.Contains(err.Error(), "train-00001.bin") {
		t.Errorf("missing shard: err %v", err)
	}
	os.WriteFile(filepath.Join(out, ManifestName), []byte("{"), 0o644)
	if _, err := Open(out); err == nil || !strings.Contains(err.Error(), ManifestName) {
		t.Errorf("bad manifest: err %v", err)
	}
	if _, err := Open(t.TempDir()); err == nil {
		t.Error("directory without manifest: no error")
	}
}
