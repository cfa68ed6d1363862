package binaries

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// BuildOptions configures Build. The zero value builds every missing binary
// into Dir() from the repository in the current directory, reporting to
// os.Stdout.
type BuildOptions struct {
	// Dir is the cache directory; empty means Dir().
	Dir string
	// RepoRoot is the root of a vclusterkit checkout (holding
	// internal/tools); empty means the nearest parent of the working
	// directory whose go.mod declares the vclusterkit module.
	RepoRoot string
	// Names limits the build to these binaries; empty means all.
	Names []string
	// Out receives progress lines; nil means os.Stdout.
	Out io.Writer
	// Heartbeat is how often a long build reports that it is still going;
	// zero means 30 seconds.
	Heartbeat time.Duration
}

// Build builds every requested binary that is missing or stale. It is
// idempotent and safe to run concurrently: an exclusive lock on DIR/.lock
// serialises builders, and a binary is renamed into place only after it was
// built completely. The error names every binary that failed and why.
func Build(ctx context.Context, opts BuildOptions) error {
	out := opts.Out
	if out == nil {
		out = os.Stdout
	}
	dir := opts.Dir
	if dir == "" {
		var err error
		if dir, err = Dir(); err != nil {
			return err
		}
	}
	root := opts.RepoRoot
	if root == "" {
		var err error
		if root, err = findRepoRoot(); err != nil {
			return err
		}
	}
	selected := tools
	if len(opts.Names) > 0 {
		selected = nil
		for _, n := range opts.Names {
			t, err := Lookup(n)
			if err != nil {
				return err
			}
			selected = append(selected, t)
		}
	}
	return build(ctx, selected, dir, root, opts.Heartbeat, out)
}

func build(ctx context.Context, selected []Tool, dir, root string, hb time.Duration, out io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating binary cache %s: %w", dir, err)
	}
	unlock, err := lock(ctx, filepath.Join(dir, ".lock"), out)
	if err != nil {
		return err
	}
	defer unlock()

	if hb <= 0 {
		hb = 30 * time.Second
	}
	var errs []error
	for i, t := range selected {
		prefix := fmt.Sprintf("[%d/%d] %s", i+1, len(selected), t.Name)
		if _, err := t.path(dir); err == nil {
			fmt.Fprintf(out, "%s: up to date (%s)\n", prefix, t.stamp())
			continue
		}
		fmt.Fprintf(out, "%s: building %s ...\n", prefix, t.stamp())
		start := time.Now()
		if err := buildOne(ctx, t, dir, root, hb, prefix, out); err != nil {
			fmt.Fprintf(out, "%s: FAILED after %s\n", prefix, time.Since(start).Round(time.Second))
			errs = append(errs, fmt.Errorf("building %s (%s): %w", t.Name, t.stamp(), err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		fmt.Fprintf(out, "%s: built in %s\n", prefix, time.Since(start).Round(time.Second))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	fmt.Fprintf(out, "binaries ready in %s\n", dir)
	return nil
}

func buildOne(ctx context.Context, t Tool, dir, root string, hb time.Duration, prefix string, out io.Writer) error {
	modDir := filepath.Join(root, "internal", "tools", t.Module)
	if _, err := os.Stat(filepath.Join(modDir, "go.mod")); err != nil {
		return fmt.Errorf("nested module %s: %w", modDir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+t.Name+".build-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpName)

	args := []string{"build", "-o", tmpName}
	if len(t.Tags) > 0 {
		args = append(args, "-tags", strings.Join(t.Tags, ","))
	}
	if t.Ldflags != "" {
		args = append(args, "-ldflags", t.Ldflags)
	}
	cmd := exec.CommandContext(ctx, "go", append(args, t.Package)...)
	cmd.Dir = modDir
	cmd.Env = os.Environ()
	switch {
	case t.CGO:
		cmd.Env = append(cmd.Env, "CGO_ENABLED=1")
	case t.Static:
		cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
	}
	var logBuf tailBuffer
	cmd.Stdout, cmd.Stderr = &logBuf, &logBuf

	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(hb)
		defer tick.Stop()
		start := time.Now()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				fmt.Fprintf(out, "%s: still building (%s)\n", prefix, time.Since(start).Round(time.Second))
			}
		}
	}()
	err = cmd.Run()
	close(done)
	if err != nil {
		return fmt.Errorf("go build %s in %s: %w\n%s", t.Package, modDir, err, logBuf.String())
	}
	final := filepath.Join(dir, t.Name)
	if err := os.Chmod(tmpName, 0o755); err != nil {
		return err
	}
	// Stamp removed first, binary renamed, stamp written last: a crash in
	// between leaves a binary without a stamp, which counts as missing.
	_ = os.Remove(final + ".version")
	if err := os.Rename(tmpName, final); err != nil {
		return err
	}
	return os.WriteFile(final+".version", []byte(t.stamp()+"\n"), 0o644)
}

// lock takes an exclusive flock, reporting when it has to wait for another
// builder.
func lock(ctx context.Context, path string, out io.Writer) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening build lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		fmt.Fprintf(out, "another build holds %s; waiting for it\n", path)
		for {
			if ctx.Err() != nil {
				f.Close()
				return nil, ctx.Err()
			}
			if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

const modulePath = "github.com/vclusterkit/vclusterkit"

// RepoRoot returns the root of the vclusterkit checkout the working
// directory is in (what builds of our own programs run from).
func RepoRoot() (string, error) { return findRepoRoot() }

func findRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module "+modulePath+"\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside a vclusterkit checkout: run the build from the repository (make tools)")
		}
		dir = parent
	}
}

// tailBuffer keeps the last 8 KiB written to it: enough of a failed build's
// output to say why, without holding a whole log.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 8<<10 {
		t.b = t.b[len(t.b)-8<<10:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }
