package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// reaper is a detached shell that waits for this process to exit and then
// runs a clean-up script. Stop it on a normal shutdown so it does nothing.
type reaper struct {
	cmd *exec.Cmd
}

// reap describes what a reaper removes once the test binary is gone.
type reap struct {
	pids     []int      // each is a process-group leader; the group is killed
	dirs     []string   // removed recursively
	commands [][]string // run in order before dirs are removed
	env      []string   // extra environment for commands
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func startReaper(r reap) (*reaper, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "trap 'exit 0' TERM\nwhile kill -0 %d 2>/dev/null; do sleep 1 & wait $!; done\n", os.Getpid())
	for _, c := range r.commands {
		q := make([]string, len(c))
		for i, a := range c {
			q[i] = quote(a)
		}
		fmt.Fprintf(&b, "%s >/dev/null 2>&1\n", strings.Join(q, " "))
	}
	for _, p := range r.pids {
		// dash's kill takes no "--"; -PID addresses the process group.
		fmt.Fprintf(&b, "kill -9 -%d 2>/dev/null; kill -9 %d 2>/dev/null\n", p, p)
	}
	for _, d := range r.dirs {
		fmt.Fprintf(&b, "rm -rf -- %s\n", quote(d))
	}
	cmd := exec.Command("/bin/sh", "-c", b.String())
	cmd.Env = append(os.Environ(), r.env...)
	// A session of its own: the reaper must survive the test binary and the
	// signals sent to its process group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the clean-up reaper: %w", err)
	}
	go func() { _ = cmd.Wait() }()
	return &reaper{cmd: cmd}, nil
}

// stop tells the reaper that cleanup happened normally.
func (r *reaper) stop() {
	if r == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
}

// childPIDs lists the direct children of this process whose command line
// has an argument equal to marker or ending in "="+marker (a directory only
// that environment's processes are given).
func childPIDs(marker string) []int {
	self := os.Getpid()
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Format: pid (comm) state ppid ...; comm may contain spaces.
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:])
		if len(fields) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid != self {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for _, arg := range strings.Split(string(cmdline), "\x00") {
			if arg == marker || strings.HasSuffix(arg, "="+marker) {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}
