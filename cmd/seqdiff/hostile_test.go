package main

// Hostile inputs through the command line: each case gives seqdiff a bad
// file and checks that the command fails (main exits 1 on any error),
// that the message names the file and the place in it, and that nothing
// is left half-written. docs/ROBUSTNESS.md lists every case with the
// message it gets; `go test -v -run Hostile ./cmd/seqdiff` prints them.

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hostileCase is one bad input given to seqdiff.
type hostileCase struct {
	name string
	args []string
	want []string // substrings of the error message
	// absent lists paths that must not exist after the command.
	absent []string
}

func runHostile(t *testing.T, cases []hostileCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := run(t, c.args...)
			if err == nil {
				t.Fatalf("seqdiff %s: no error", strings.Join(c.args, " "))
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			for _, p := range c.absent {
				if _, err := os.Stat(p); err == nil {
					t.Errorf("%s exists after the failed command", p)
				}
				// Nor a temporary file or folder beside it (.NAME.*).
				ents, _ := os.ReadDir(filepath.Dir(p))
				for _, e := range ents {
					if strings.HasPrefix(e.Name(), "."+filepath.Base(p)+".") {
						t.Errorf("leftover %s beside %s", e.Name(), p)
					}
				}
			}
			t.Logf("seqdiff: %v", err)
		})
	}
}

// hostileWrite writes body to dir/name and returns the path.
func hostileWrite(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func hostileBases(n int, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = "ACGT"[r.IntN(4)]
	}
	return string(b)
}

func TestHostileFASTA(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	s := strings.Repeat("ACGT", 10)
	w := func(name, body string) string { return hostileWrite(t, dir, name, body) }
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(">a\n" + hostileBases(4000, 1) + "\n"))
	zw.Close()
	bgzf, err := os.ReadFile(filepath.Join("..", "..", "genome", "testdata", "MT-human.fa.bgz"))
	if err != nil {
		t.Fatal(err)
	}
	stale := w("stale.fa", ">a\n"+s+"\n"+s+"\n")
	w("stale.fa.fai", "a\t99\t3\t40\t41\n")
	prep := func(fa string, more ...string) []string {
		return append([]string{"prep", "--fasta", fa, "--out", out, "--seq-len", "8", "--quiet"}, more...)
	}
	cases := []hostileCase{
		{"no header", prep(w("nohdr.fa", "ACGT\n>a\n"+s+"\n")), []string{"nohdr.fa:1: sequence before the first '>' header"}, nil},
		{"empty file", prep(w("empty.fa", "")), []string{"empty.fa: empty file"}, nil},
		{"only blank lines", prep(w("blank.fa", "\n\r\n\n")), []string{"blank.fa: no FASTA records: only blank lines"}, nil},
		{"record without sequence", prep(w("norec.fa", ">a\n>b\n"+s+"\n")), []string{"norec.fa:1: record a: no sequence after the header"}, nil},
		{"duplicate name", prep(w("dup.fa", ">a\n"+s+"\n>a x\n"+s+"\n")), []string{"dup.fa:3: record a: duplicate record name (first seen at line 1)"}, nil},
		{"digit", prep(w("digit.fa", ">a\n"+s+"\nAC1T\n")), []string{"digit.fa:3: record a: invalid byte in sequence: '1' at column 3"}, nil},
		{"star", prep(w("star.fa", ">a\n"+s+"\nAC*T\n")), []string{"star.fa:3: record a: invalid byte in sequence: '*' at column 3"}, nil},
		{"dash (gap)", prep(w("dash.fa", ">a\n"+s+"\nAC-T\n")), []string{"dash.fa:3: record a: invalid byte in sequence: '-' at column 3"}, nil},
		{"dot", prep(w("dot.fa", ">a\n"+s+"\nAC.T\n")), []string{"dot.fa:3: record a: invalid byte in sequence: '.' at column 3"}, nil},
		{"NUL byte", prep(w("nul.fa", ">a\n"+s+"\nAC\x00T\n")), []string{"nul.fa:3: record a: invalid byte in sequence: byte 0x00 at column 3"}, nil},
		{"header without name", prep(w("noname.fa", ">\n"+s+"\n")), []string{"noname.fa:1: header '>' has no record name"}, nil},
		{"UTF-8 byte order mark", prep(w("bom.fa", "\xEF\xBB\xBF>a\n"+s+"\n")), []string{"bom.fa:1:", "UTF-8 byte order mark"}, nil},
		{"binary file", prep(w("png.fa", "\x89PNG\r\n\x1a\n\x00\x00")), []string{"png.fa:1: sequence before the first '>' header (line starts with byte 0x89); is this a FASTA file?"}, nil},
		{"truncated gzip", prep(w("cut.fa.gz", string(gz.Bytes()[:600]))), []string{"cut.fa.gz:2: record a: gzip data ends early: the file is truncated"}, nil},
		{"truncated BGZF", prep(w("cut.fa.bgz", string(bgzf[:300]))), []string{"cut.fa.bgz:1: BGZF block at byte 0 ends early: the file is truncated"}, nil},
		{"stale .fai", prep(stale), []string{"stale.fa:1: record a: does not match the index", "stale.fa.fai", "rebuild it with `seqdiff index`"}, nil},
		{"missing file", prep(filepath.Join(dir, "missing.fa")), []string{"missing.fa", "no such file"}, nil},
		{"a directory", prep(dir), []string{dir + " is a directory"}, nil},
		{"seq-len below 8", prep(w("ok.fa", ">a\n"+s+"\n"), "--seq-len", "7"), []string{"--seq-len 7"}, nil},
		{"seq-len above every record", prep(filepath.Join(dir, "ok.fa"), "--seq-len", "100"), []string{"--seq-len 100", "longest is a, 40 bp"}, nil},
	}
	for i := range cases {
		cases[i].absent = []string{out}
	}
	runHostile(t, cases)
}

func hostileGzip(s string) string {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.String()
}

func TestHostileSplitBED(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	fa := hostileWrite(t, dir, "g.fa", ">chr1\n"+hostileBases(1500, 2)+"\n>chr2\n"+hostileBases(1500, 3)+"\n")
	bed := func(name, body string) []string {
		return []string{"prep", "--fasta", fa, "--out", out, "--seq-len", "8", "--quiet", "--split-bed", hostileWrite(t, dir, name, body)}
	}
	cases := []hostileCase{
		{"non-integer end", bed("x.bed", "chr1\t0\tx\ttrain\n"), []string{`split BED`, `x.bed:1: end "x" is not an integer`}, nil},
		{"negative start", bed("neg.bed", "chr1\t-5\t10\ttrain\n"), []string{"neg.bed:1: start -5 is negative"}, nil},
		{"start after end", bed("rev.bed", "chr1\t0\t5\ttrain\nchr1\t20\t10\ttrain\n"), []string{"rev.bed:2: start 20 is after end 10"}, nil},
		{"two columns", bed("two.bed", "# header\nchr1 0\n"), []string{"two.bed:2: 2 column(s); BED needs at least chrom, start and end"}, nil},
		{"no split column", bed("three.bed", "chr1\t0\t10\n"), []string{"three.bed:1: no split column (want chrom, start, end, split)"}, nil},
		{"unknown split", bed("hold.bed", "chr1\t0\t100\tholdout\n"), []string{`hold.bed:1: unknown split "holdout" (want train, valid or test)`}, nil},
		{"unknown chromosome", bed("chrz.bed", "chr1\t0\t100\ttrain\nchrZ\t0\t100\ttest\n"), []string{`chrz.bed:2: unknown chromosome "chrZ" (no such record in the FASTA)`}, nil},
		{"overlap across splits", bed("ovl.bed", "chr1\t0\t1000\ttrain\nchr1\t500\t1500\ttest\n"), []string{"ovl.bed:2: interval chr1:500-1500 (test) overlaps line 1 (train)"}, nil},
		{"unknown chromosome, gzip", bed("chrz.bed.gz", hostileGzip("# splits\nchr1\t0\t100\ttrain\nchrZ\t0\t100\ttest\n")), []string{`chrz.bed.gz:3: unknown chromosome "chrZ"`}, nil},
	}
	for i := range cases {
		cases[i].absent = []string{out}
	}
	runHostile(t, cases)
}

func TestHostileTextCorpus(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	w := func(name, body string) string { return hostileWrite(t, dir, name, body) }
	owt := filepath.Join(dir, "owt")
	w("owt/a.txt", "")
	w("owt/b.txt", "  \n\n")
	// A 100 MB corpus on a single line, written here and never committed:
	// refused at 16 MiB, so memory stays bounded.
	long := filepath.Join(dir, "one-line.txt")
	f, err := os.Create(long)
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte("word "), 1<<20/5)
	for n := 0; n < 100<<20; n += len(chunk) {
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	text := func(in string, more ...string) []string {
		return append([]string{"prep", "--text", in, "--out", out, "--quiet"}, more...)
	}
	cases := []hostileCase{
		{"invalid UTF-8", text(w("bad.txt", "ok .\nnot \xfe ok\n")), []string{"bad.txt:2: byte 4 of the line: invalid UTF-8"}, nil},
		{"truncated UTF-8 at the end", text(w("cut.txt", "ok\n\ncaf\xc3"), "--style", "owt"), []string{"cut.txt:3: byte 3 of the line: invalid UTF-8"}, nil},
		{"only empty documents (lines)", text(w("blank.txt", "\n \n\t\n")), []string{"blank.txt: no document (3 empty ones skipped)"}, nil},
		{"only empty documents (folder)", text(owt, "--style", "owt"), []string{"owt: no document (2 empty ones skipped)"}, nil},
		{"jsonl without text", text(w("d.jsonl", `{"text": "a"}`+"\n"+`{"body": "b"}`+"\n"), "--style", "owt"), []string{`d.jsonl:2: no string "text" field`}, nil},
		{"jsonl cut short", text(w("e.jsonl", `{"text": "a"`+"\n"), "--style", "owt"), []string{"e.jsonl:1: unexpected end of JSON input"}, nil},
		{"100 MB single line (lm1b)", text(long), []string{"one-line.txt:1: line longer than 16 MiB"}, nil},
		{"100 MB single line (owt)", text(long, "--style", "owt"), []string{"one-line.txt:1: line longer than 16 MiB", "split the input"}, nil},
	}
	for i := range cases {
		cases[i].absent = []string{out}
	}
	runHostile(t, cases)
}

func TestHostileTaskTable(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "ft")
	w := func(name, body string) string { return hostileWrite(t, dir, name, body) }
	// The task is read before the checkpoint, so --from need not exist.
	task := func(path string, more ...string) []string {
		return append([]string{"finetune", "--task", path, "--from", filepath.Join(dir, "no-ckpt"), "--out", out}, more...)
	}
	w("gb/train/pos/1.txt", "ACGT\n")
	w("gb/test/pos/1.txt", "ACGT\n")
	w("gb/test/neg/1.txt", "ACGA\n")
	os.MkdirAll(filepath.Join(dir, "gb", "train", "neg"), 0o755)
	w("gb2/train/pos/1.txt", "ACGT\n")
	w("gb2/train/neg/1.txt", "ACGA\n")
	cases := []hostileCase{
		{"missing column", task(w("miss.tsv", "sequence\tlabel\nACGT\t1\n")), []string{`miss.tsv:1: header "sequence,label" lacks column "seq" or "label" (set --seq-col/--label-col)`}, nil},
		{"empty sequence", task(w("emptyseq.tsv", "seq\tlabel\nACGT\t1\n\t0\n")), []string{`emptyseq.tsv:3: column "seq": empty sequence`}, nil},
		{"empty label", task(w("emptylabel.tsv", "seq\tlabel\nACGT\t\nACGA\t0\n")), []string{"emptylabel.tsv:2: empty label"}, nil},
		{"invalid base", task(w("base.csv", "seq,label\nACGT,1\nACUT,0\n")), []string{`base.csv:3: column "seq": byte 2: invalid base 'U'`}, nil},
		{"label only in test", task(w("tr.tsv", "seq\tlabel\nACGT\t1\nACGA\t0\n"), "--test", w("te.tsv", "seq\tlabel\nACGT\t1\nACGT\t2\n")), []string{`te.tsv:3: label "2" appears in test but not in train`}, nil},
		{"a single class", task(w("single.tsv", "seq\tlabel\nACGT\t1\nACGA\t1\nACGG\t1\n")), []string{`single.tsv: the training rows hold a single class "1"; classification needs two or more`}, nil},
		{"bare quote", task(w("quote.tsv", "seq\tlabel\nACGT\t0\nAC\"GT\t1\n")), []string{`quote.tsv: parse error on line 3, column 3: bare " in non-quoted-field`}, nil},
		{"unterminated quote", task(w("open.csv", "seq,label\nACGT,0\n\"ACGT,1\n")), []string{`open.csv: parse error on line 3, column 9: extraneous or missing " in quoted-field`}, nil},
		{"short row", task(w("fields.csv", "seq,label\nACGT,1\nACGT\n")), []string{"fields.csv: record on line 3: wrong number of fields"}, nil},
		{"empty file", task(w("empty.tsv", "")), []string{`empty.tsv: empty file, want a header naming "seq" and "label"`}, nil},
		{"header only", task(w("hdr.tsv", "seq\tlabel\r\n")), []string{"hdr.tsv: no rows after the header"}, nil},
		{"missing file", task(filepath.Join(dir, "nothere.tsv")), []string{"nothere.tsv: no such file"}, nil},
		{"empty class folder", task(filepath.Join(dir, "gb")), []string{filepath.Join("gb", "train", "neg") + `: class folder "neg" holds no .txt sequence files`}, nil},
		{"no test folder", task(filepath.Join(dir, "gb2")), []string{filepath.Join("gb2", "test") + ": no such file"}, nil},
		{"good task, no checkpoint", task(w("good.tsv", table2(20))), []string{"checkpoint " + filepath.Join(dir, "no-ckpt"), "config.json: no such file"}, nil},
	}
	for i := range cases {
		cases[i].absent = []string{out}
	}
	runHostile(t, cases)
}

// table2 is a task table of n rows per class, two classes.
func table2(n int) string {
	var b strings.Builder
	b.WriteString("seq\tlabel\n")
	for i := range 2 * n {
		b.WriteString(hostileBases(12, uint64(i)) + "\t" + string(rune('0'+i%2)) + "\n")
	}
	return b.String()
}

// hostilePrep is a small DNA prep directory (rows of 16) to break.
func hostilePrep(t *testing.T, dir string) string {
	t.Helper()
	fa := hostileWrite(t, dir, "g.fa", ">chr1\n"+hostileBases(1500, 4)+"\n>chr2\n"+hostileBases(1500, 5)+"\n")
	p := filepath.Join(dir, "prep")
	if _, _, err := run(t, "prep", "--fasta", fa, "--out", p, "--seq-len", "16", "--block", "500", "--quiet"); err != nil {
		t.Fatal(err)
	}
	return p
}

// hostileCopy copies the flat directory src to dst.
func hostileCopy(t *testing.T, src, dst string) string {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// hostileManifest edits dst/manifest.json as a generic JSON object.
func hostileManifest(t *testing.T, dir string, edit func(m map[string]any)) {
	t.Helper()
	p := filepath.Join(dir, "manifest.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, _ = json.Marshal(m)
	os.WriteFile(p, b, 0o644)
}

func TestHostileShards(t *testing.T) {
	dir := t.TempDir()
	good := hostilePrep(t, dir)
	run1 := filepath.Join(dir, "run")
	bad := func(name string, edit func(d string)) string {
		d := hostileCopy(t, good, filepath.Join(dir, name))
		edit(d)
		return d
	}
	split := func(m map[string]any, s string) map[string]any {
		return m["splits"].(map[string]any)[s].(map[string]any)
	}
	truncated := bad("truncated", func(d string) {
		p := filepath.Join(d, "train-00000.bin")
		fi, _ := os.Stat(p)
		os.Truncate(p, fi.Size()-1)
	})
	longer := bad("longer", func(d string) {
		f, _ := os.OpenFile(filepath.Join(d, "valid-00000.bin"), os.O_APPEND|os.O_WRONLY, 0)
		f.Write(make([]byte, 16))
		f.Close()
	})
	windows := bad("windows", func(d string) {
		hostileManifest(t, d, func(m map[string]any) { split(m, "train")["windows"] = split(m, "train")["windows"].(float64) + 1 })
	})
	missing := bad("missing", func(d string) { os.Remove(filepath.Join(d, "valid-00000.bin")) })
	outside := bad("outside", func(d string) {
		f, _ := os.OpenFile(filepath.Join(d, "train-00000.bin"), os.O_WRONLY, 0)
		f.WriteAt([]byte{200}, 17)
		f.Close()
	})
	notJSON := bad("notjson", func(d string) {
		os.WriteFile(filepath.Join(d, "manifest.json"), []byte(`{"format": "seqdiff-prep",`), 0o644)
	})
	format := bad("format", func(d string) { hostileManifest(t, d, func(m map[string]any) { m["format"] = "other" }) })
	vocab := bad("vocab", func(d string) { hostileManifest(t, d, func(m map[string]any) { m["vocab_size"] = 13 }) })
	seqLen := bad("seqlen", func(d string) { hostileManifest(t, d, func(m map[string]any) { m["seq_len"] = 1 << 62 }) })
	escape := bad("escape", func(d string) {
		hostileManifest(t, d, func(m map[string]any) {
			split(m, "valid")["shards"].([]any)[0].(map[string]any)["file"] = "../prep/valid-00000.bin"
		})
	})
	pretrain := func(d string) []string {
		return []string{"pretrain", "--data", d, "--out", run1, "--max-steps", "1", "--d-model", "16", "--n-layers", "1", "--n-heads", "2", "--threads", "1"}
	}
	cases := []hostileCase{
		{"truncated shard", pretrain(truncated), []string{"prep dir " + truncated + ": shard train-00000.bin is", "the manifest says"}, nil},
		{"shard longer than listed", pretrain(longer), []string{"prep dir " + longer + ": shard valid-00000.bin is", "the manifest says"}, nil},
		{"manifest counts another number of windows", pretrain(windows), []string{"prep dir " + windows + ": train split: shards hold", "the manifest counts"}, nil},
		{"shard missing", pretrain(missing), []string{"prep dir " + missing + ": valid split:", "valid-00000.bin: no such file"}, nil},
		{"id outside the vocabulary", pretrain(outside), []string{"shard " + filepath.Join(outside, "train-00000.bin") + ": row 1 position 1: id 200 outside the vocabulary of 12"}, nil},
		{"manifest not JSON", pretrain(notJSON), []string{"manifest " + filepath.Join(notJSON, "manifest.json") + ": unexpected end of JSON input"}, nil},
		{"not a prep manifest", pretrain(format), []string{"manifest " + filepath.Join(format, "manifest.json") + `: format "other", want "seqdiff-prep"`}, nil},
		{"DNA tokenizer with another vocabulary", pretrain(vocab), []string{"tokenizer dna-char with vocab_size 13, want 12"}, nil},
		{"seq_len that overflows", pretrain(seqLen), []string{"seq_len 4611686018427387904 outside 1..1073741824"}, nil},
		{"shard outside the prep dir", pretrain(escape), []string{"prep dir " + escape + `: valid: bad shard file name "../prep/valid-00000.bin"`}, nil},
		{"no prep dir", pretrain(filepath.Join(dir, "nowhere")), []string{"nowhere", "manifest.json: no such file"}, nil},
	}
	for i := range cases {
		cases[i].absent = []string{run1}
	}
	// Scoring reads the prep dir through the same checks.
	ck := filepath.Join(dir, "ck")
	if _, _, err := run(t, "model", "init", "--out", ck, "--d-model", "16", "--n-layers", "1", "--n-heads", "2", "--seq-len", "16"); err != nil {
		t.Fatal(err)
	}
	cases = append(cases,
		hostileCase{"eval: truncated shard", []string{"eval", "ppl", "--ckpt", ck, "--data", truncated, "--threads", "1"},
			[]string{"prep dir " + truncated + ": shard train-00000.bin is"}, nil},
		hostileCase{"eval: id outside the vocabulary", []string{"eval", "ppl", "--ckpt", ck, "--data", outside, "--split", "train", "--threads", "1"},
			[]string{"shard " + filepath.Join(outside, "train-00000.bin") + ": row 1 position 1: id 200 outside the vocabulary of 12"}, nil})
	runHostile(t, cases)
}

// hostileHeader rewrites the JSON header (and optionally the data) of a
// safetensors file.
func hostileHeader(t *testing.T, path string, edit func(h map[string]any), data func([]byte) []byte) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(raw)
	var h map[string]any
	if err := json.Unmarshal(raw[8:8+n], &h); err != nil {
		t.Fatal(err)
	}
	body := raw[8+n:]
	if edit != nil {
		edit(h)
	}
	if data != nil {
		body = data(body)
	}
	hj, _ := json.Marshal(h)
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(hj)))
	os.WriteFile(path, append(append(out, hj...), body...), 0o644)
}

func TestHostileCheckpoints(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "ck")
	if _, _, err := run(t, "model", "init", "--out", good, "--d-model", "16", "--n-layers", "1", "--n-heads", "2", "--seq-len", "16"); err != nil {
		t.Fatal(err)
	}
	fa := filepath.Join(dir, "s.fa")
	bad := func(name string, edit func(d string)) string {
		d := hostileCopy(t, good, filepath.Join(dir, name))
		edit(d)
		return d
	}
	model := func(d string) string { return filepath.Join(d, "model.safetensors") }
	entry := func(h map[string]any, name string) map[string]any { return h[name].(map[string]any) }
	config := func(d, from, to string) {
		p := filepath.Join(d, "config.json")
		b, _ := os.ReadFile(p)
		if !bytes.Contains(b, []byte(from)) {
			t.Fatalf("config.json lacks %s", from)
		}
		os.WriteFile(p, bytes.Replace(b, []byte(from), []byte(to), 1), 0o644)
	}
	missing := bad("missing", func(d string) {
		hostileHeader(t, model(d), func(h map[string]any) { delete(h, "head.bias") }, func(b []byte) []byte { return b[:len(b)-4*12] })
	})
	shape := bad("shape", func(d string) {
		hostileHeader(t, model(d), func(h map[string]any) { entry(h, "blocks.0.attn.out.weight")["shape"] = []int{8, 32} }, nil)
	})
	dtype := bad("dtype", func(d string) {
		hostileHeader(t, model(d), func(h map[string]any) { entry(h, "final_ln.bias")["dtype"] = "F16" }, nil)
	})
	truncated := bad("truncated", func(d string) {
		b, _ := os.ReadFile(model(d))
		os.WriteFile(model(d), b[:len(b)-100], 0o644)
	})
	lying := bad("lying", func(d string) {
		hostileHeader(t, model(d), func(h map[string]any) {
			off := entry(h, "embed.weight")["data_offsets"].([]any)
			entry(h, "embed.weight")["data_offsets"] = []any{off[0], off[1].(float64) + 4}
		}, nil)
	})
	overlap := bad("overlap", func(d string) {
		hostileHeader(t, model(d), func(h map[string]any) {
			entry(h, "final_ln.bias")["data_offsets"] = entry(h, "final_ln.weight")["data_offsets"]
		}, nil)
	})
	hugeHeader := bad("hugeheader", func(d string) {
		b, _ := os.ReadFile(model(d))
		binary.LittleEndian.PutUint64(b, 1<<40)
		os.WriteFile(model(d), b, 0o644)
	})
	newer := bad("newer", func(d string) { config(d, `"format_version": 1`, `"format_version": 2, "rope_scaling": "yarn"`) })
	huge := bad("huge", func(d string) { config(d, `"d_model": 16`, `"d_model": 1073741824`) })
	noConfig := bad("noconfig", func(d string) { os.Remove(filepath.Join(d, "config.json")) })
	badMode := bad("badmode", func(d string) { config(d, `"mode": "mdlm"`, `"mode": "diffusion"`) })
	sample := func(d string) []string {
		return []string{"sample", "--ckpt", d, "--n", "1", "--len", "8", "--steps", "2", "--out", fa, "--threads", "1"}
	}
	cases := []hostileCase{
		{"missing tensor", sample(missing), []string{model(missing) + `: missing tensor "head.bias"`}, nil},
		{"wrong shape", sample(shape), []string{model(shape) + `: tensor "blocks.0.attn.out.weight" has shape [8 32], want [16 16]`}, nil},
		{"wrong dtype", sample(dtype), []string{model(dtype) + `: tensor "final_ln.bias": data_offsets span 64 bytes but F16 [16] needs 32`}, nil},
		{"truncated safetensors", sample(truncated), []string{model(truncated) + `: tensor "head.bias": data_offsets`, "run past the", "(truncated file or lying header)"}, nil},
		{"header lies about offsets", sample(lying), []string{model(lying) + `: tensor "embed.weight": data_offsets span 772 bytes but F32 [12 16] needs 768`}, nil},
		{"overlapping offsets", sample(overlap), []string{model(overlap) + `: tensor "final_ln.`, "overlap the previous tensor"}, nil},
		{"header length past the file", sample(hugeHeader), []string{model(hugeHeader) + ": header length 1099511627776 is implausible"}, nil},
		{"config from a newer version", sample(newer), []string{filepath.Join(newer, "config.json") + ": format_version 2 is newer than this seqdiff reads (1); upgrade seqdiff"}, nil},
		{"config larger than the weights", sample(huge), []string{"config.json (vocab_size 12, d_model 1073741824, n_layers 1) describes more parameters than the 3644 values of " + model(huge)}, nil},
		{"no config.json", sample(noConfig), []string{filepath.Join(noConfig, "config.json") + ": no such file"}, nil},
		{"unknown mode", sample(badMode), []string{filepath.Join(badMode, "config.json") + `: mode "diffusion": want mdlm, ar or mlm`}, nil},
	}
	for i := range cases {
		cases[i].absent = []string{fa}
	}
	runHostile(t, cases)
}

func TestHostileYAML(t *testing.T) {
	dir := t.TempDir()
	w := func(name, body string) string { return hostileWrite(t, dir, name, body) }
	runDir := filepath.Join(dir, "run")
	resumed := filepath.Join(dir, "resumed")
	trainYAML := w("resumed/train.yaml", "mode: ar\ndata: prep\nout: resumed\nmax_steps: 3\nlearning_rate: 0.1\n")
	ck := filepath.Join(dir, "ck")
	study := filepath.Join(dir, "study")
	pretrain := func(cfg string) []string {
		return []string{"pretrain", "--config", cfg, "--data", filepath.Join(dir, "prep"), "--out", runDir}
	}
	cases := []hostileCase{
		{"unknown key", pretrain(w("c1.yaml", "mode: ar\nmax_step: 7\n")), []string{`c1.yaml:2: unknown key "max_step"`}, []string{runDir}},
		{"wrong type", pretrain(w("c2.yaml", "mode: ar\nlr: fast\n")), []string{"c2.yaml:2: cannot unmarshal !!str `fast` into float64"}, []string{runDir}},
		{"repeated key", pretrain(w("c3.yaml", "lr: 1e-3\nlr: 2e-3\n")), []string{`c3.yaml:2: mapping key "lr" already defined at line 1`}, []string{runDir}},
		{"second document", pretrain(w("c4.yaml", "mode: ar\n---\nmode: mdlm\n")), []string{"c4.yaml:2: a second YAML document (---)"}, []string{runDir}},
		{"bad syntax", pretrain(w("c5.yaml", "mode: ar\n  bad: [\n")), []string{"c5.yaml:2: mapping values are not allowed in this context"}, []string{runDir}},
		{"unknown key in the run's train.yaml (--resume)", []string{"pretrain", "--out", resumed, "--resume"}, []string{trainYAML + `:5: unknown key "learning_rate"`}, nil},
		{"unknown key in a study", []string{"experiment", "--config", w("s.yaml", "pretrain:\n  max_stepz: 3\n"), "--out", study}, []string{`s.yaml:2: unknown key "max_stepz"`}, []string{study}},
		{"unknown key in a model config (YAML)", []string{"model", "init", "--config", w("m.yaml", "d_model: 16\nn_layer: 1\n"), "--out", ck}, []string{`m.yaml:2: unknown key "n_layer"`}, []string{ck}},
		{"unknown key in a model config (JSON)", []string{"model", "init", "--config", w("m.json", `{"d_model": 16, "n_layer": 1}`), "--out", ck}, []string{"m.json", `unknown field "n_layer"`}, []string{ck}},
	}
	runHostile(t, cases)
	// The resumed run's folder holds what it held.
	if ents, _ := os.ReadDir(resumed); len(ents) != 1 {
		t.Errorf("%s holds %d entries after a refused resume, want train.yaml only", resumed, len(ents))
	}
}

// A run's checkpoint whose state.json was corrupted: --resume refuses it
// and leaves the run dir as it was (the metrics log used to be padded with
// NUL bytes up to a metrics_offset past its end).
func TestHostileResumeState(t *testing.T) {
	dir := t.TempDir()
	prep := hostilePrep(t, dir)
	good := filepath.Join(dir, "run")
	if _, _, err := run(t, "pretrain", "--data", prep, "--out", good, "--max-steps", "2", "--d-model", "16", "--n-layers", "1",
		"--n-heads", "2", "--threads", "1", "--log-every", "0", "--eval-every", "0"); err != nil {
		t.Fatal(err)
	}
	state := func(d string) string { return filepath.Join(d, "checkpoint", "state.json") }
	bad := func(name, from, to string) string {
		d := filepath.Join(dir, name)
		if err := os.CopyFS(d, os.DirFS(good)); err != nil {
			t.Fatal(err)
		}
		y, _ := os.ReadFile(filepath.Join(d, "train.yaml"))
		os.WriteFile(filepath.Join(d, "train.yaml"), bytes.ReplaceAll(y, []byte(good), []byte(d)), 0o644)
		b, _ := os.ReadFile(state(d))
		if !bytes.Contains(b, []byte(from)) {
			t.Fatalf("state.json lacks %s:\n%s", from, b)
		}
		os.WriteFile(state(d), bytes.Replace(b, []byte(from), []byte(to), 1), 0o644)
		return d
	}
	metrics, _ := os.ReadFile(filepath.Join(good, "metrics.jsonl"))
	var st struct {
		Offset int64 `json:"metrics_offset"`
	}
	b, _ := os.ReadFile(state(good))
	json.Unmarshal(b, &st)
	off := fmt.Sprintf(`"metrics_offset": %d`, st.Offset)
	cases := []struct {
		name, from, to string
		want           []string
	}{
		{"metrics_offset past the log", off, `"metrics_offset": 99999`, []string{"metrics.jsonl has", "state.json says its last step ends at byte 99999"}},
		{"negative step", `"step": 2`, `"step": -5`, []string{"state.json holds a negative or impossible count (step -5"}},
		{"step of another type", `"step": 2`, `"step": "two"`, []string{"state.json: json: cannot unmarshal string"}},
		{"no rng", `"rng"`, `"rnq"`, []string{"state.json is missing or incomplete"}},
		{"not JSON", `{`, `[`, []string{"state.json"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := bad(strings.ReplaceAll(c.name, " ", "-"), c.from, c.to)
			before, _ := os.ReadFile(state(d))
			_, _, err := run(t, "pretrain", "--out", d, "--resume", "--max-steps", "3", "--threads", "1")
			if err == nil {
				t.Fatal("resumed from a corrupt state.json")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			after, _ := os.ReadFile(state(d))
			m, _ := os.ReadFile(filepath.Join(d, "metrics.jsonl"))
			if !bytes.Equal(before, after) || !bytes.Equal(m, metrics) {
				t.Errorf("the refused resume changed state.json or metrics.jsonl (%d bytes, was %d)", len(m), len(metrics))
			}
			t.Logf("seqdiff: %v", err)
		})
	}
}

// TestHostileVCF: a malformed VCF stops `score` with FILE:LINE, exit
// status 1 and no output file (a bad line after the first chunk of
// records, whose rows were already written, included); problems of one
// record against the FASTA are not errors of the file (TestScoreChr20Cases).
func TestHostileVCF(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "scores.tsv")
	ck := scoreModel(t, dir, "ar")
	seq := hostileBases(2000, 4)
	fa := hostileWrite(t, dir, "g.fa", ">1\n"+seq+"\n")
	const hdr = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
	good := func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			p := 100 + i%1800
			fmt.Fprintf(&b, "1\t%d\t.\t%c\tN\t.\t.\t.\n", p, seq[p-1])
		}
		return b.String()
	}
	vcf := func(name, body string) []string {
		return []string{"score", "--ckpt", ck, "--fasta", fa, "--vcf", hostileWrite(t, dir, name, body), "-o", out, "--window", "16"}
	}
	cases := []hostileCase{
		{"wrong column count", vcf("cols.vcf", hdr+good(2)+"1\t300\t.\tA\tC\t.\t.\n"), []string{"cols.vcf:5: 7 column(s); the #CHROM line has 8"}, nil},
		{"non-numeric POS", vcf("pos.vcf", hdr+"1\t3e5\t.\tA\tC\t.\t.\t.\n"), []string{`pos.vcf:3: POS "3e5" is not a non-negative integer`}, nil},
		{"empty REF", vcf("ref.vcf", hdr+"1\t300\t.\t\tC\t.\t.\t.\n"), []string{"ref.vcf:3: empty REF"}, nil},
		{"a REF that is not bases", vcf("refx.vcf", hdr+"1\t300\t.\tA-\tC\t.\t.\t.\n"), []string{`refx.vcf:3: REF "A-": '-' at position 2 is not a base`}, nil},
		{"an empty ALT allele", vcf("alt.vcf", hdr+"1\t300\t.\tA\tC,\t.\t.\t.\n"), []string{`alt.vcf:3: ALT "C,": allele 2: empty allele`}, nil},
		{"no #CHROM line", vcf("nochrom.vcf", "##fileformat=VCFv4.2\n1\t300\t.\tA\tC\t.\t.\t.\n"), []string{"nochrom.vcf:2: record before the #CHROM header line (line starts with '1'); is this a VCF file?"}, nil},
		{"a #CHROM line with spaces", vcf("spaced.vcf", "#CHROM POS ID REF ALT QUAL FILTER INFO\n"), []string{"spaced.vcf:1: the #CHROM line is separated by spaces; VCF columns are separated by tabs"}, nil},
		{"a data line with spaces", vcf("spaces.vcf", hdr+"1 300 . A C . . .\n"), []string{"spaces.vcf:3: 1 column(s); the #CHROM line has 8 (VCF columns are separated by tabs, not spaces)"}, nil},
		{"a FASTA given as VCF", vcf("fa.vcf", ">1\nACGT\n"), []string{"fa.vcf:1: record before the #CHROM header line (line starts with '>')"}, nil},
		{"empty file", vcf("empty.vcf", ""), []string{"empty.vcf: empty file: no VCF header"}, nil},
		{"a bad line after 600 scored records", vcf("late.vcf", hdr+good(600)+"1\tx\t.\tA\tC\t.\t.\t.\n"), []string{`late.vcf:603: POS "x" is not a non-negative integer`}, nil},
		{"truncated gzip", vcf("cut.vcf.gz", hostileGzip(hdr + good(3000))[:3000]), []string{"cut.vcf.gz:", "gzip data ends early: the file is truncated"}, nil},
		{"a missing path", []string{"score", "--ckpt", ck, "--fasta", fa, "--vcf", filepath.Join(dir, "missing.vcf"), "-o", out}, []string{"missing.vcf: no such file or directory"}, nil},
	}
	for i := range cases {
		cases[i].absent = []string{out}
	}
	runHostile(t, cases)
	_, _, err := run(t, cases[0].args...)
	if code := exitCode(context.Background(), err); code != 1 {
		t.Errorf("malformed VCF: exit status %d, want 1", code)
	}
}
