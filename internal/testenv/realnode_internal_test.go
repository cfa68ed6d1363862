package testenv

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A machine that cannot run a node is told what it lacks and how to get it,
// every part at once.
func TestNodeMissingNamesEachPartAndItsFix(t *testing.T) {
	err := missingOf(1000, []nodeNeed{
		{"/nonexistent/runc", "apt-get install runc (make test-deps)"},
		{"/proc/self", "never shown"},
	}, []string{"no-such-command-vck"})
	if err == nil {
		t.Fatal("no error for a machine without runc, root or the command")
	}
	msg := err.Error()
	for _, want := range []string{
		"cannot run a real node",
		"not root",
		"/nonexistent/runc is missing: apt-get install runc (make test-deps)",
		"command no-such-command-vck not found: make test-deps installs it",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "never shown") {
		t.Errorf("a part that is there was reported missing:\n%s", msg)
	}
	if err := missingOf(0, []nodeNeed{{"/proc/self", "x"}}, []string{"sh"}); err != nil {
		t.Errorf("a machine with everything was refused: %v", err)
	}
}

// One real node per machine: a second node waits for the first one's lock,
// and gives up naming the holder.
func TestSecondNodeWaitsForTheLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.lock")
	first, err := lockNode(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := lockNode(ctx, path); err == nil || !strings.Contains(err.Error(), "another real node holds "+path+" (pid "+strconv.Itoa(os.Getpid())+")") {
		t.Fatalf("second lock while the first is held: %v", err)
	}
	first.Close() // releases the flock
	second, err := lockNode(context.Background(), path)
	if err != nil {
		t.Fatalf("lock after the first was released: %v", err)
	}
	second.Close()
}
