// Package assets holds the small real genome slices shipped inside the
// seqdiff binary, so that `seqdiff prep` (and the demo built on it) runs on a
// fresh clone with nothing else. README.md in this folder says where each
// file came from.
package assets

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Names of the embedded FASTA files (BGZF or gzip, readable by genome.Open).
const (
	// Human is 1 Mb of human chr22 (about 15% N), the default input of prep.
	Human = "human_chr22_1mb.fa.gz"
	// Worm is 1 Mb of C. elegans chrX (UCSC ce2), for the human-or-worm task.
	Worm = "worm_chrX_1mb.fa.gz"
	// Mito is the human mitochondrial genome, 16,569 bp.
	Mito = "MT-human.fa.gz"
)

//go:embed human_chr22_1mb.fa.gz worm_chrX_1mb.fa.gz MT-human.fa.gz
var files embed.FS

// FS returns the embedded files as a read-only file system.
func FS() fs.FS { return files }

// Bytes returns the (compressed) content of the embedded file name.
func Bytes(name string) ([]byte, error) {
	b, err := files.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("assets: %w", err)
	}
	return b, nil
}

// WriteTemp copies the embedded file name into a new temporary file in dir
// (os.TempDir() when dir is empty), keeping its name as a suffix so that
// readers that look at the extension still see ".fa.gz". The caller removes
// the returned path.
func WriteTemp(dir, name string) (string, error) {
	b, err := Bytes(name)
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, "seqdiff-*-"+filepath.Base(name))
	if err != nil {
		return "", fmt.Errorf("assets: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", fmt.Errorf("assets: write %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("assets: write %s: %w", f.Name(), err)
	}
	return f.Name(), nil
}

// Path returns a file on disk holding the embedded file name, for readers
// that need a path. The copy lives in os.UserCacheDir()/seqdiff/assets,
// named by the content's sha256, is written by temp file and rename (a
// killed run leaves no partial copy under the final name) and is reused by
// later runs, so nothing is left in the temporary folder. remove reports
// whether the caller should delete the path when done: true only when no
// cache folder is usable and the file was written by WriteTemp instead.
func Path(name string) (path string, remove bool, err error) {
	b, err := Bytes(name)
	if err != nil {
		return "", false, err
	}
	base, err := os.UserCacheDir()
	if err != nil {
		p, err := WriteTemp("", name)
		return p, err == nil, err
	}
	dir := filepath.Join(base, "seqdiff", "assets")
	sum := sha256.Sum256(b)
	final := filepath.Join(dir, hex.EncodeToString(sum[:8])+"-"+filepath.Base(name))
	if fi, err := os.Stat(final); err == nil && fi.Size() == int64(len(b)) {
		return final, false, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p, err := WriteTemp("", name)
		return p, err == nil, err
	}
	sweepTemps(dir)
	tmp, err := WriteTemp(dir, name)
	if err != nil {
		return "", false, err
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return "", false, fmt.Errorf("assets: %w", err)
	}
	return final, false, nil
}

// sweepTemps removes copies that a killed run left half-written in dir
// (older than a minute, so a concurrent writer is not disturbed).
func sweepTemps(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "seqdiff-") {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Minute {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
