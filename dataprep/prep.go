package dataprep

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/seqdiff/seqdiff/genome"
	"github.com/seqdiff/seqdiff/internal/assets"
	"github.com/seqdiff/seqdiff/vocab"
)

// Defaults of Options.
const (
	DefaultSeqLen = 1024
	DefaultMaxN   = 0.5
	DefaultBlock  = 1_000_000
	// EmbeddedBlock is the default block of the embedded slice: 1 Mb blocks
	// would put the whole 1 Mb record in one split.
	EmbeddedBlock = 100_000
	// MinSeqLen is the shortest window prep accepts.
	MinSeqLen = 8
)

// Options configure Prep. The zero value of a field means its default.
type Options struct {
	// Fasta is the input (plain, gzip or BGZF; "": the embedded 1 Mb human
	// chr22 slice, split in blocks of EmbeddedBlock unless Block or chromosome
	// lists say otherwise); Out the prep directory to create.
	Fasta, Out string
	// InputName is recorded in the manifest instead of Fasta when set (the
	// embedded default is read from a temporary copy).
	InputName string
	// Force replaces an existing Out.
	Force bool

	SeqLen int     // window length in tokens (default 1024, at least 8)
	Stride int     // step between window starts (default SeqLen)
	MaxN   float64 // windows with a larger fraction of N are dropped (default 0.5); all-N windows always are
	// NoMaxN makes MaxN = 0 mean zero N allowed rather than the default.
	NoMaxN bool

	// Split selection, in order of precedence: SplitBED, then
	// ValidChroms/TestChroms, then blocks of Block bases (default 1 Mb).
	SplitBED                string
	ValidChroms, TestChroms []string
	Block                   int

	ShardBytes int64 // largest shard file (default 256 MiB)

	// Progress, if set, is called with the number of bases just processed.
	Progress func(bases int64)
}

func (o *Options) setDefaults() {
	if o.SeqLen == 0 {
		o.SeqLen = DefaultSeqLen
	}
	if o.Stride == 0 {
		o.Stride = o.SeqLen
	}
	if o.MaxN == 0 && !o.NoMaxN {
		o.MaxN = DefaultMaxN
	}
	if o.Block == 0 {
		o.Block = DefaultBlock
	}
	if o.ShardBytes == 0 {
		o.ShardBytes = DefaultShardBytes
	}
}

func (o *Options) check() error {
	switch {
	case o.SeqLen < MinSeqLen:
		return fmt.Errorf("--seq-len %d: must be at least %d", o.SeqLen, MinSeqLen)
	case o.Stride < 1:
		return fmt.Errorf("--stride %d: must be positive", o.Stride)
	case !(o.MaxN >= 0 && o.MaxN <= 1):
		return fmt.Errorf("--max-n %v: must be between 0 and 1", o.MaxN)
	case o.SplitBED == "" && len(o.ValidChroms)+len(o.TestChroms) == 0 && o.Block < o.SeqLen:
		return fmt.Errorf("--block %d: must be at least --seq-len %d", o.Block, o.SeqLen)
	case o.ShardBytes < int64(o.SeqLen):
		return fmt.Errorf("shard size %d bytes: smaller than one row of %d", o.ShardBytes, o.SeqLen)
	case o.Out == "":
		return errors.New("no output directory")
	}
	return nil
}

// Prep reads the FASTA opts.Fasta and writes the prep directory opts.Out:
// shards of fixed-length uint8 token rows per split and manifest.json. It
// works in a temporary directory beside Out (.NAME.tmp-PID) and renames it
// into place at the end, so an error or an interrupt (ctx) leaves neither a
// half-written Out nor the temporary directory. An existing Out is an error
// unless opts.Force, which replaces it.
func Prep(ctx context.Context, opts Options) (*Manifest, error) {
	if opts.Fasta == "" {
		p, remove, err := assets.Path(assets.Human)
		if err != nil {
			return nil, fmt.Errorf("prep: %w", err)
		}
		if remove {
			defer os.Remove(p)
		}
		opts.Fasta, opts.InputName = p, "embedded:"+assets.Human
		if opts.Block == 0 && len(opts.ValidChroms)+len(opts.TestChroms) == 0 {
			opts.Block = EmbeddedBlock
		}
	}
	opts.setDefaults()
	if err := opts.check(); err != nil {
		return nil, fmt.Errorf("prep: %w", err)
	}
	fi, err := os.Stat(opts.Fasta)
	if err != nil {
		return nil, fmt.Errorf("prep: FASTA %w", err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("prep: FASTA %s is a directory", opts.Fasta)
	}

	sp, bedSHA, err := opts.splitter()
	if err != nil {
		return nil, fmt.Errorf("prep: %w", err)
	}
	if err := opts.precheck(sp); err != nil {
		return nil, fmt.Errorf("prep: %w", err)
	}

	return stageDir(opts.Out, opts.Force, func(tmp string) (*Manifest, error) {
		return prepInto(ctx, tmp, &opts, sp, bedSHA)
	})
}

// stageDir makes the prep directory out: fill writes it into a temporary
// directory beside out (.NAME.tmp-PID), which is then renamed into place
// (replacing an existing out only with force). The output side is checked
// before fill runs, so an unwritable out fails before any work; on any
// error the temporary directory is removed and out is untouched.
func stageDir(out string, force bool, fill func(tmp string) (*Manifest, error)) (*Manifest, error) {
	out = filepath.Clean(out)
	if st, err := os.Stat(out); err == nil {
		if !force {
			return nil, fmt.Errorf("prep: output %s exists (use --force to replace it)", out)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("prep: output %s exists and is not a directory", out)
		}
	}
	parent, base := filepath.Dir(out), filepath.Base(out)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("prep: output %s: %w", out, err)
	}
	removeStale(parent, base)
	tmp := filepath.Join(parent, "."+base+".tmp-"+strconv.Itoa(os.Getpid()))
	os.RemoveAll(tmp) // a stale one of a killed run with our pid
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("prep: output %s: %w", out, err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	m, err := fill(tmp)
	if err != nil {
		return nil, err
	}
	if err := install(tmp, out, force); err != nil {
		return nil, fmt.Errorf("prep: %w", err)
	}
	ok = true
	return m, nil
}

// precheck uses FASTA.fai, when there is one, to find before any work the
// errors the stream would otherwise find at its end: chromosome names that
// the FASTA lacks (in the chromosome lists or the split BED), BED intervals
// past a record's end, and a --seq-len longer than every record.
func (o *Options) precheck(sp splitter) error {
	fai, err := genome.ReadFai(o.Fasta + ".fai")
	if err != nil {
		return nil // no usable index: the stream checks
	}
	names := make([]string, len(fai))
	longest := genome.FaiEntry{Length: -1}
	for i, e := range fai {
		names[i] = e.Name
		if e.Length > longest.Length {
			longest = e
		}
	}
	if len(fai) > 0 && longest.Length < int64(o.SeqLen) {
		return fmt.Errorf("%s: --seq-len %d is longer than every record (the longest is %s, %d bp)", o.Fasta, o.SeqLen, longest.Name, longest.Length)
	}
	if bs, ok := sp.(*bedSplitter); ok {
		for _, e := range fai {
			if _, err := bs.segments(nil, e.Name, int(e.Length)); err != nil {
				return err
			}
		}
		err := bs.finish()
		clear(bs.seen)
		return err
	}
	if o.SplitBED == "" {
		for _, n := range append(append([]string(nil), o.ValidChroms...), o.TestChroms...) {
			if _, err := genome.ResolveName(n, names); err != nil {
				return fmt.Errorf("--valid-chroms/--test-chroms: %w", err)
			}
		}
	}
	return nil
}

// splitter builds the split rule of opts.
func (o *Options) splitter() (splitter, string, error) {
	canon := genome.CanonicalName
	switch {
	case o.SplitBED != "":
		ivs, err := ReadSplitBED(o.SplitBED)
		if err != nil {
			return nil, "", err
		}
		sp, err := newBEDSplitter(o.SplitBED, ivs, canon)
		if err != nil {
			return nil, "", err
		}
		sum, err := fileSHA256(o.SplitBED)
		if err != nil {
			return nil, "", err
		}
		return sp, sum, nil
	case len(o.ValidChroms)+len(o.TestChroms) > 0:
		sp, err := newChromSplitter(o.ValidChroms, o.TestChroms, canon)
		return sp, "", err
	}
	return &blockSplitter{size: o.Block, canonical: canon}, "", nil
}

// prepInto streams the FASTA into dir and writes the manifest there.
func prepInto(ctx context.Context, dir string, opts *Options, sp splitter, bedSHA string) (*Manifest, error) {
	// The input's sha256 is computed from its own read of the file, in
	// parallel with the decoding.
	type hashResult struct {
		sum  string
		size int64
		err  error
	}
	hashc := make(chan hashResult, 1)
	go func() {
		f, err := os.Open(opts.Fasta)
		if err != nil {
			hashc <- hashResult{err: err}
			return
		}
		defer f.Close()
		h := sha256.New()
		n, err := io.CopyBuffer(h, f, make([]byte, 1<<20))
		hashc <- hashResult{hex.EncodeToString(h.Sum(nil)), n, err}
	}()

	e := newEngine(dir, opts.SeqLen, opts.Stride, opts.MaxN, sp, opts.ShardBytes)
	e.progress = opts.Progress
	err := stream(ctx, opts.Fasta, e)
	if err == nil {
		err = e.finish()
	}
	hr := <-hashc
	if err != nil {
		e.abort()
		return nil, wrapPrepErr(opts.Fasta, err)
	}
	if hr.err != nil {
		return nil, fmt.Errorf("prep: %s: %w", opts.Fasta, hr.err)
	}
	total := e.w[Train].windows + e.w[Valid].windows + e.w[Test].windows
	if total == 0 {
		if e.longest.Length < opts.SeqLen {
			return nil, fmt.Errorf("prep: %s: --seq-len %d is longer than every record (the longest is %s, %d bp)",
				opts.Fasta, opts.SeqLen, e.longest.Name, e.longest.Length)
		}
		return nil, fmt.Errorf("prep: %s: no window of %d bases passed --max-n %v", opts.Fasta, opts.SeqLen, opts.MaxN)
	}

	name := opts.InputName
	if name == "" {
		name = opts.Fasta
	}
	tok := DNA{}
	m := &Manifest{
		Format:      ManifestFormat,
		Version:     1,
		Tokenizer:   tok.Name(),
		VocabSize:   tok.VocabSize(),
		ElementType: "uint8",
		SeqLen:      opts.SeqLen,
		PadID:       vocab.Pad,
		MaskID:      vocab.Mask,
		Input:       Input{Path: name, SHA256: hr.sum, Bytes: hr.size, Bases: e.bases, Records: e.records},
		Params: Params{
			SeqLen: opts.SeqLen, Stride: opts.Stride, MaxN: opts.MaxN, SplitMode: sp.mode(),
			ShardBytes: opts.ShardBytes,
		},
		Splits: map[string]*SplitInfo{},
		Fixups: e.fixups,
	}
	switch sp.mode() {
	case "blocks":
		m.Params.Block, m.Params.SplitHash = opts.Block, splitHashDoc
	case "chroms":
		m.Params.ValidChroms, m.Params.TestChroms = opts.ValidChroms, opts.TestChroms
	case "bed":
		m.Params.SplitBED, m.Params.SplitBEDSHA = opts.SplitBED, bedSHA
	}
	for s := range numSplits {
		m.Splits[s.String()] = e.w[s].info()
	}
	if err := writeJSONFile(filepath.Join(dir, ManifestName), m); err != nil {
		return nil, fmt.Errorf("prep: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return nil, fmt.Errorf("prep: %w", err)
	}
	return m, nil
}

// wrapPrepErr names the FASTA unless the error already does (genome's
// FormatError starts with the path).
func wrapPrepErr(path string, err error) error {
	var fe *genome.FormatError
	if errors.As(err, &fe) || strings.Contains(err.Error(), path) {
		return fmt.Errorf("prep: %w", err)
	}
	return fmt.Errorf("prep: %s: %w", path, err)
}

// stream reads the FASTA records on their own goroutine, so that decoding
// the next record overlaps windowing the current one.
func stream(ctx context.Context, path string, e *engine) error {
	r, err := genome.Open(path)
	if err != nil {
		return err
	}
	type item struct {
		rec genome.Record
		err error
	}
	ch := make(chan item, 1)
	stop := make(chan struct{})
	go func() {
		defer close(ch)
		for {
			rec, err := r.Next()
			select {
			case ch <- item{rec, err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		close(stop)
		for range ch {
		}
		r.Close()
	}()
	for it := range ch {
		if it.err == io.EOF {
			return nil
		}
		if it.err != nil {
			return it.err
		}
		if err := e.record(ctx, it.rec.Name, it.rec.Seq); err != nil {
			return err
		}
	}
	return nil
}

// install moves the finished tmp directory to out; with force an existing
// out is first renamed aside and removed once the new one is in place.
func install(tmp, out string, force bool) error {
	var old string
	if _, err := os.Lstat(out); err == nil {
		if !force {
			return fmt.Errorf("output %s appeared while preparing (use --force to replace it)", out)
		}
		old = filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".old-"+strconv.Itoa(os.Getpid()))
		os.RemoveAll(old)
		if err := os.Rename(out, old); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, out); err != nil {
		if old != "" {
			os.Rename(old, out)
		}
		return err
	}
	if old != "" {
		os.RemoveAll(old)
	}
	return syncDir(filepath.Dir(out))
}

// removeStale removes .BASE.tmp-PID and .BASE.old-PID directories left by
// killed runs: those whose process is gone.
func removeStale(parent, base string) {
	ents, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, ent := range ents {
		name := ent.Name()
		for _, kind := range []string{".tmp-", ".old-"} {
			prefix := "." + base + kind
			if !strings.HasPrefix(name, prefix) {
				continue
			}
			pid, err := strconv.Atoi(name[len(prefix):])
			if err != nil || pid == os.Getpid() || processAlive(pid) {
				continue
			}
			os.RemoveAll(filepath.Join(parent, name))
		}
	}
}

func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
