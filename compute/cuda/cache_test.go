package cuda

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCacheKey(t *testing.T) {
	opts := nvrtcOptions("sm_90")
	base := cacheKey("src", "sm_90", opts, 12, 4, "lib")
	if len(base) != 64 {
		t.Fatalf("key %q: want 64 hex digits", base)
	}
	if cacheKey("src", "sm_90", opts, 12, 4, "lib") != base {
		t.Error("key not deterministic")
	}
	for name, k := range map[string]string{
		"source":  cacheKey("src ", "sm_90", opts, 12, 4, "lib"),
		"arch":    cacheKey("src", "sm_80", opts, 12, 4, "lib"),
		"options": cacheKey("src", "sm_90", append(opts[:len(opts):len(opts)], "-lineinfo"), 12, 4, "lib"),
		"major":   cacheKey("src", "sm_90", opts, 13, 4, "lib"),
		"minor":   cacheKey("src", "sm_90", opts, 12, 5, "lib"),
		"build":   cacheKey("src", "sm_90", opts, 12, 4, "other lib"),
	} {
		if k == base {
			t.Errorf("changing the %s leaves the key unchanged", name)
		}
	}
	// The real source: every kernel file is in it.
	src := kernelSource()
	for _, f := range kernelFiles() {
		if !strings.Contains(src, "// ---- "+f) {
			t.Errorf("kernel source lacks %s", f)
		}
	}
	if len(kernelFiles()) < 7 {
		t.Errorf("only %d kernel files embedded", len(kernelFiles()))
	}
}

func TestLibIdentity(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, "libnvrtc.so.12")
	if err := os.WriteFile(lib, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "libnvrtc.so")
	if err := os.Symlink(lib, link); err != nil {
		t.Fatal(err)
	}
	a := libIdentity(link)
	if a != libIdentity(lib) || !strings.HasPrefix(a, lib+" ") {
		t.Errorf("a link and its target differ: %q, %q", a, libIdentity(lib))
	}
	if err := os.WriteFile(lib, []byte("rebuilt"), 0o644); err != nil {
		t.Fatal(err)
	}
	if libIdentity(lib) == a {
		t.Error("a rebuilt library keeps its identity")
	}
	if got := libIdentity("libnvrtc.so.12"); got != "libnvrtc.so.12" {
		t.Errorf("bare name: %q", got)
	}
}

func TestCacheStoreLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "seqdiff", "cuda")
	if _, ok := cacheLoad(dir, "k", ".cubin"); ok {
		t.Fatal("hit in an empty cache")
	}
	img := []byte("\x7fELF cubin bytes")
	if err := cacheStore(dir, "k", ".cubin", img); err != nil {
		t.Fatal(err)
	}
	got, ok := cacheLoad(dir, "k", ".cubin")
	if !ok || !bytes.Equal(got, img) {
		t.Fatalf("load = %q, %v", got, ok)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("%d files in the cache after one store, want 1 (no temporaries left)", len(ents))
	}
	// An empty file (a crash before the rename cannot leave one, but a
	// full disk might) is a miss, not an image.
	os.WriteFile(filepath.Join(dir, "e.cubin"), nil, 0o644)
	if _, ok := cacheLoad(dir, "e", ".cubin"); ok {
		t.Error("empty file taken as an image")
	}
	if err := cacheStore("", "k", ".cubin", img); err != nil {
		t.Errorf("no cache dir: %v", err)
	}
}
