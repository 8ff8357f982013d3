package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// LockFile is the name of the run directory's lock.
const LockFile = "LOCK"

// Lock takes the run directory's lock: an exclusive flock(2) on dir/LOCK,
// which holds the owner's PID and host for the message a second run gets.
// The kernel drops the lock when its process dies however it dies
// (SIGKILL, OOM, power loss of a local disk), so a crashed run never
// leaves it stuck and no PID is trusted (PIDs are reused). The returned
// function releases it and removes the file.
func Lock(dir string) (func(), error) {
	path := filepath.Join(dir, LockFile)
	for try := 0; try < 5; try++ {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if err := flock(f); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				owner, _ := os.ReadFile(path)
				who := strings.TrimSpace(string(owner))
				if who == "" {
					who = "another process"
				} else {
					who = "process " + who
				}
				return nil, fmt.Errorf("run directory %s is in use by %s (%s is locked); wait for it to finish or stop it first", dir, who, path)
			}
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		// The holder we waited on may have removed the file after we
		// opened it: then our lock is on a dead inode, so try again.
		if !samePath(f, path) {
			f.Close()
			continue
		}
		host, _ := os.Hostname()
		// The holder's pid and host are for the message a second run gets;
		// the flock is the lock. On a full disk the note cannot be written,
		// and the run goes on to fail (or not) on its real writes instead.
		if f.Truncate(0) == nil {
			fmt.Fprintf(f, "%d on %s\n", os.Getpid(), host)
		}
		return func() {
			os.Remove(path) // before the unlock, so a waiter sees a new inode (samePath)
			f.Close()
		}, nil
	}
	return nil, fmt.Errorf("lock %s: the lock file kept changing while it was taken", path)
}

// flock takes an exclusive, non-blocking flock on f, retrying on EINTR.
func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// samePath reports whether the open file f is still the file at path.
func samePath(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}
