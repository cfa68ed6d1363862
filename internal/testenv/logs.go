package testenv

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// tailLines is how much of each component log a failure prints.
const tailLines = 40

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// dumpLogs writes the tail of every *.log file in dir to w.
func dumpLogs(w io.Writer, what, dir string) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	sort.Strings(files)
	for _, f := range files {
		fmt.Fprintf(w, "----- %s %s (last %d lines) -----\n%s\n", what, filepath.Base(f), tailLines, tail(f, tailLines))
	}
}

// logsOnFailure registers a cleanup on t that prints the logs in dir if t
// failed by then.
func logsOnFailure(t testing.TB, what, dir string) {
	t.Helper()
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		var b bytes.Buffer
		dumpLogs(&b, what, dir)
		t.Log("component logs:\n" + b.String())
	})
}
