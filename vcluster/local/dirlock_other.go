//go:build !unix

package local

import "os"

// tryLock: outside Unix there is no flock; the directory is not guarded.
func tryLock(*os.File) error { return nil }
