package local

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// proc is one child process of a control plane.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}

	mu       sync.Mutex
	exitErr  error
	stopping atomic.Bool
}

// startProc starts bin with args, output appended to logPath, in its own
// process group, with env added to the environment of this process.
// onExit runs (in a goroutine) when the process exits without being
// stopped.
func startProc(name, bin string, args, env []string, workDir, logPath string, onExit func(*proc, error)) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening log of %s: %w", name, err)
	}
	fmt.Fprintf(logf, "--- %s starting %s %s\n", time.Now().UTC().Format(time.RFC3339), bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Dir = workDir
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		if err == nil {
			err = errors.New("exited with status 0")
		}
		logf.Close()
		p.mu.Lock()
		p.exitErr = err
		p.mu.Unlock()
		close(p.done)
		if !p.stopping.Load() && onExit != nil {
			onExit(p, err)
		}
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited returns the exit error and true when the process has ended.
func (p *proc) exited() (error, bool) {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.exitErr, true
	default:
		return nil, false
	}
}

// stop sends SIGTERM to the process group, waits up to grace, then SIGKILLs
// the group and waits for the process to be reaped.
func (p *proc) stop(grace time.Duration) {
	p.stopping.Store(true)
	if _, done := p.exited(); done {
		killGroup(p.pid(), syscall.SIGKILL) // stragglers it forked
		return
	}
	killGroup(p.pid(), syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
	}
	killGroup(p.pid(), syscall.SIGKILL)
	<-p.done
}

func killGroup(pid int, sig syscall.Signal) {
	if pid <= 0 {
		return
	}
	_ = syscall.Kill(-pid, sig)
}

// tail returns the last n lines of a log file.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	const maxRead = 64 << 10
	st, err := f.Stat()
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	off := max(st.Size()-maxRead, 0)
	b, err := io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// processAlive reports whether pid runs a process whose command line
// mentions marker (a state directory), so a recycled pid is never killed.
func processAlive(pid int, marker string) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return false
	}
	return bytes.Contains(b, []byte(marker))
}

// killStale kills the process groups of recorded pids that still run a
// command of this state directory, and waits briefly for them to go.
func killStale(pids []int, marker string) {
	var alive []int
	for _, pid := range pids {
		if processAlive(pid, marker) {
			killGroup(pid, syscall.SIGKILL)
			alive = append(alive, pid)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range alive {
		for processAlive(pid, marker) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
}
