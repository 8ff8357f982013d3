package cuda

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// cacheKey names a compiled kernel image: the sha256 of everything that
// changes NVRTC's output (source, target architecture, options, NVRTC
// version and build), so an edited kernel, another GPU or another toolkit
// never picks up a stale image. build is libIdentity of the NVRTC library:
// two installs of one version (a real one and the emulator's) differ.
func cacheKey(src, arch string, opts []string, nvrtcMajor, nvrtcMinor int, build string) string {
	h := sha256.New()
	fmt.Fprintf(h, "seqdiff-cuda-v1\x00%s\x00nvrtc %d.%d\x00%s\x00%s\x00", arch, nvrtcMajor, nvrtcMinor, build, strings.Join(opts, "\x00"))
	h.Write([]byte(src))
	return hex.EncodeToString(h.Sum(nil))
}

// libIdentity names a library file by its resolved path, size and
// modification time (a library upgraded or rebuilt in place changes it);
// a bare name found by the system loader is its own identity.
func libIdentity(path string) string {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return path
	}
	st, err := os.Stat(real)
	if err != nil {
		return real
	}
	return fmt.Sprintf("%s %d %d", real, st.Size(), st.ModTime().UnixNano())
}

// cacheDir is os.UserCacheDir()/seqdiff/cuda ("" when there is no home;
// then nothing is cached).
func cacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "seqdiff", "cuda")
}

// cacheLoad returns the cached image for key, if any.
func cacheLoad(dir, key, ext string) ([]byte, bool) {
	if dir == "" {
		return nil, false
	}
	b, err := os.ReadFile(filepath.Join(dir, key+ext))
	if err != nil || len(b) == 0 {
		return nil, false
	}
	return b, true
}

// cacheStore writes the image atomically (temp file, fsync, rename), so a
// crash or a concurrent run never leaves a truncated image under the key.
// Failures are ignored: the cache only saves time.
func cacheStore(dir, key, ext string, image []byte) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, key+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(image)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, key+ext))
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
