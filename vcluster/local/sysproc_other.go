//go:build !linux

package local

import "syscall"

// sysProcAttr puts a child in its own process group. Outside Linux there is
// no parent-death signal: Provision kills processes recorded in the state
// directory before starting again.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
