package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestQuickstartStory runs the main job exactly as `make demo` does. Every
// step of the story checks what it shows (a pod refused by quota, a
// privileged pod refused, objects surviving sleep, nothing left after a
// delete) and fails the run when it does not hold.
func TestQuickstartStory(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), options{timeout: 8 * time.Minute}, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatalf("quickstart: %v", err)
	}
	for _, want := range []string{
		"denied the request: quota exceeded",
		`pod violates PodSecurity "restricted"`,
		"deployment still there: shop 3 replicas",
		"refused: tenant data still has",
		"its control-plane state directory is gone",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the story's output lacks %q", want)
		}
	}
}
