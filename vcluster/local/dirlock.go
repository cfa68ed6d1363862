package local

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrDirInUse is returned when another Provisioner — in this process or
// another — already uses Options.Dir. Two provisioners on one directory
// would each take the other's control planes for ones left by an earlier
// run and start them again, on the same ports and backing stores.
var ErrDirInUse = errors.New("local: state directory is in use by another provisioner")

// lockFile is the file in Options.Dir whose lock marks the directory as
// taken; it holds the PID of the holder, for the error message.
const lockFile = ".lock"

// claimDir takes Options.Dir for this Provisioner, once: an exclusive,
// non-blocking lock on Dir/.lock that the kernel releases when the process
// ends, however it ends, and that Shutdown gives up. Every operation that
// starts, stops or changes a control plane claims the directory first.
func (p *Provisioner) claimDir() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dirLock != nil {
		return nil
	}
	if err := os.MkdirAll(p.opts.Dir, 0o700); err != nil {
		return fmt.Errorf("local: creating state directory root: %w", err)
	}
	path := filepath.Join(p.opts.Dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("local: %w", err)
	}
	if err := tryLock(f); err != nil {
		holder := "unknown"
		if b, rerr := os.ReadFile(path); rerr == nil && len(strings.TrimSpace(string(b))) > 0 {
			holder = "pid " + strings.TrimSpace(string(b))
		}
		_ = f.Close()
		return fmt.Errorf("%w: %s (held by %s): give each program (and each Provisioner) its own Options.Dir", ErrDirInUse, p.opts.Dir, holder)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	p.dirLock = f
	return nil
}

// releaseDir gives the directory up (Shutdown).
func (p *Provisioner) releaseDir() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dirLock != nil {
		_ = p.dirLock.Close() // closing the file releases the lock
		p.dirLock = nil
	}
}
