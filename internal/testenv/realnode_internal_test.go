package testenv

import (
	"strings"
	"testing"
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
