package train

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// LockFile is the name of the run directory's lock.
const LockFile = "LOCK"

// Lock takes the run directory's lock: LOCK holding this process's PID,
// created exclusively. A lock whose PID is not a live process is stale
// (its run died) and is taken over. The returned function releases it.
func Lock(dir string) (func(), error) {
	path := filepath.Join(dir, LockFile)
	for try := 0; try < 2; try++ {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			_, werr := fmt.Fprintf(f, "%d\n", os.Getpid())
			if cerr := f.Close(); werr == nil {
				werr = cerr
			}
			if werr != nil {
				os.Remove(path)
				return nil, fmt.Errorf("lock %s: %w", path, werr)
			}
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		data, rerr := os.ReadFile(path)
		if rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			return nil, fmt.Errorf("lock %s: %w", path, rerr)
		}
		pid, perr := strconv.Atoi(strings.TrimSpace(string(data)))
		if perr == nil && pid > 0 && alive(pid) {
			return nil, fmt.Errorf("run directory %s is in use by process %d (%s); if that is wrong, remove the lock", dir, pid, path)
		}
		// Stale (dead PID or unreadable): take it over.
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("lock %s: remove stale lock: %w", path, err)
		}
	}
	return nil, fmt.Errorf("lock %s: another process took it while a stale lock was replaced", path)
}

// alive reports whether pid is a running process (signal 0 probes it; a
// process of another user answers EPERM, which still means alive).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
