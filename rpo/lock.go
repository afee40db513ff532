package rpo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// LockFile is the lock a run holds in its OutDir (see LockOutDir).
const LockFile = ".lock"

// ErrLocked is wrapped by the error LockOutDir returns when another process holds the folder.
var ErrLocked = errors.New("in use by another run")

var (
	locksMu sync.Mutex
	locks   = map[string]*outDirLock{} // by absolute folder, this process's
)

type outDirLock struct {
	f     *os.File
	count int
}

// LockOutDir takes the lock of a run folder, creating the folder if needed: an exclusive lock
// (flock on Unix) on dir/.lock, which the operating system releases when the process ends, so a
// killed run leaves no stale lock. Another process that asks for the same folder gets an error
// wrapping ErrLocked naming the holder's process id. Within one process the lock is counted, so a
// program may hold the folder around the Trainer's own Run (which takes it too); call release
// once per successful LockOutDir.
func LockOutDir(dir string) (release func(), err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("rpo: %w", err)
	}
	locksMu.Lock()
	defer locksMu.Unlock()
	if l, ok := locks[abs]; ok {
		l.count++
		return releaser(abs), nil
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("rpo: %w", err)
	}
	path := filepath.Join(abs, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("rpo: locking %s: %w", abs, err)
	}
	if err := lockFile(f); err != nil {
		holder := "another process"
		if data, rerr := os.ReadFile(path); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(data))); perr == nil {
				holder = fmt.Sprintf("process %d", pid)
			}
		}
		f.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, fmt.Errorf("rpo: %s is %w (%s holds %s)", abs, ErrLocked, holder, path)
		}
		return nil, fmt.Errorf("rpo: locking %s: %w", path, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	locks[abs] = &outDirLock{f: f, count: 1}
	return releaser(abs), nil
}

func releaser(abs string) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			locksMu.Lock()
			defer locksMu.Unlock()
			l := locks[abs]
			if l == nil {
				return
			}
			if l.count--; l.count == 0 {
				_ = unlockFile(l.f)
				_ = l.f.Close()
				delete(locks, abs)
			}
		})
	}
}
