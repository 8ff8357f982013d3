// Package assets holds the small real genome slices shipped inside the
// seqdiff binary, so that `seqdiff prep` (and the demo built on it) runs on a
// fresh clone with nothing else. README.md in this folder says where each
// file came from.
package assets

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
