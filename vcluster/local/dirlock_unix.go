//go:build unix

package local

import (
	"os"
	"syscall"
)

// tryLock takes an exclusive flock without waiting. The lock belongs to
// the open file: a second open of the same file, even in this process,
// does not get it, and the file is opened close-on-exec, so the control
// plane processes do not inherit it.
func tryLock(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
