//go:build linux

package local

import "syscall"

// sysProcAttr puts a child in its own process group (so stopping it also
// stops anything it forked) and asks the kernel to SIGKILL it when the
// embedding program dies, so a crash leaves no orphan control plane.
//
// Pdeathsig fires when the OS thread that started the child exits. The Go
// runtime only ends threads whose goroutine called runtime.LockOSThread and
// returned without unlocking; this package never does that, so in practice
// the signal comes when the process dies. Provision also kills any process
// it recorded in the state directory before starting again, which covers the
// rest.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
