package finetune

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// FuzzTaskTable: no task table makes the reader panic; every error names
// the file; accepted rows hold a non-empty sequence of base ids (A C G T N)
// and a trimmed, non-empty label at a line of the file; written back as a
// quoted TSV they read to the same rows; and Load either refuses the file
// or splits every row into train or test with classes seen in train.
//
//	go test -run '^$' -fuzz FuzzTaskTable -fuzztime 10m -parallel 1 ./finetune
func FuzzTaskTable(f *testing.F) {
	f.Add([]byte(table([]string{"0", "1"}, 5)))
	f.Add([]byte("\xEF\xBB\xBFid,\"sequence\",class\r\na,\"acgtRYn\",\"enhancer, strong\"\r\nb,ACGTACGT,none\r\n"))
	f.Add([]byte("seq,label\n\"AC\nGT\",1\nACGT,0\n"))
	f.Add([]byte("seq\tlabel\nACGT\t1\n\t0\n"))
	f.Add([]byte("seq\tlabel\nACGT\t1\nACGT\n"))
	f.Add([]byte("seq\tlabel\nAC\"GT\t1\n"))
	f.Add([]byte("label\tseq\n 1 \t acgt \n"))
	f.Add([]byte("seq\tlabel\n"))
	f.Add([]byte("seq,label\nACGT,1\nAC-GT,0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		p := filepath.Join(dir, "task.tsv")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		rows, err := readTable(p, "seq", "label")
		if err != nil {
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error %q does not name %s", err, p)
			}
			return
		}
		lines := bytes.Count(data, []byte{'\n'}) + 1
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		w.Comma = '\t'
		w.Write([]string{"seq", "label"})
		for _, r := range rows {
			if len(r.seq) == 0 || r.label == "" || r.label != strings.TrimSpace(r.label) {
				t.Fatalf("%s: accepted row %v %q", r.where, r.seq, r.label)
			}
			file, ln, ok := strings.Cut(r.where, ".tsv:")
			if n, err := strconv.Atoi(ln); !ok || file+".tsv" != p || err != nil || n < 2 || n > lines {
				t.Fatalf("row at %q: want %s:LINE with LINE in 2..%d", r.where, p, lines)
			}
			seq := make([]byte, len(r.seq))
			for i, id := range r.seq {
				if id < 7 || id > 11 {
					t.Fatalf("%s: id %d is not a base", r.where, id)
				}
				seq[i] = "ACGTN"[id-7]
			}
			w.Write([]string{string(seq), r.label})
		}
		w.Flush()
		back := filepath.Join(dir, "back.tsv")
		if err := os.WriteFile(back, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		again, err := readTable(back, "seq", "label")
		if err != nil || len(again) != len(rows) {
			t.Fatalf("written back as %q: %d rows, %v; want %d", b.String(), len(again), err, len(rows))
		}
		for i := range rows {
			if !slices.Equal(again[i].seq, rows[i].seq) || again[i].label != rows[i].label {
				t.Fatalf("row %d: %v %q read back as %v %q", i, rows[i].seq, rows[i].label, again[i].seq, again[i].label)
			}
		}
		task, err := Load(LoadOptions{Path: p})
		if err != nil {
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("Load: error %q does not name %s", err, p)
			}
			return
		}
		if len(task.Classes) < 2 || len(task.Train)+len(task.Test) != len(rows) || len(task.Test) == 0 {
			t.Fatalf("Load: %d classes, %d+%d rows of %d", len(task.Classes), len(task.Train), len(task.Test), len(rows))
		}
		for _, e := range append(task.Train, task.Test...) {
			if e.Label < 0 || e.Label >= len(task.Classes) {
				t.Fatalf("label %d of %d classes", e.Label, len(task.Classes))
			}
		}
	})
}
