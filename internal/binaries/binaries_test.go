package binaries

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestPathMissingNamesMakeTools(t *testing.T) {
	t.Setenv(EnvDir, t.TempDir())
	_, err := Path(KubeAPIServer)
	if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "make tools") {
		t.Fatalf("Path on an empty cache: err = %v, want ErrMissing naming `make tools`", err)
	}
}

func TestPathStaleStampIsMissing(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvDir, dir)
	bin := filepath.Join(dir, Etcd)
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin+".version", []byte("go.etcd.io/etcd/server/v3@v3.5.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Path(Etcd); !errors.Is(err, ErrMissing) {
		t.Fatalf("Path with a stale stamp: err = %v, want ErrMissing", err)
	}
	tool, _ := Lookup(Etcd)
	if err := os.WriteFile(bin+".version", []byte(tool.stamp()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Path(Etcd)
	if err != nil || got != bin {
		t.Fatalf("Path with a current stamp = %q, %v; want %q", got, err, bin)
	}
}

func TestLookupUnknownListsKnown(t *testing.T) {
	_, err := Lookup("kube-dns")
	if err == nil || !strings.Contains(err.Error(), "kube-apiserver") || !strings.Contains(err.Error(), "kwokctl") {
		t.Fatalf("Lookup(unknown) err = %v, want it to list the known binaries", err)
	}
}

// fakeRepo writes a repository with one nested module holding a tiny main
// package, so Build's mechanics are tested with a real go build in seconds.
func fakeRepo(t *testing.T, body string) (root string, tool Tool) {
	t.Helper()
	root = t.TempDir()
	mod := filepath.Join(root, "internal", "tools", "hello")
	if err := os.MkdirAll(mod, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"go.mod":  "module example.com/hello\n\ngo 1.26\n",
		"main.go": "package main\n\nfunc main() { " + body + " }\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(mod, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root, Tool{Name: "hello", Module: "hello", Package: "example.com/hello", Version: "v0.0.1"}
}

func TestBuildIsIdempotentAndSerialised(t *testing.T) {
	root, tool := fakeRepo(t, `println("hi")`)
	dir := t.TempDir()
	var (
		wg   sync.WaitGroup
		outs [2]bytes.Buffer
		errs [2]error
	)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = build(context.Background(), []Tool{tool}, dir, root, 0, &outs[i])
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("build %d: %v\n%s", i, err, outs[i].String())
		}
	}
	all := outs[0].String() + outs[1].String()
	if n := strings.Count(all, "hello: built in"); n != 1 {
		t.Fatalf("two concurrent builds compiled %d times, want exactly 1:\n%s", n, all)
	}
	if !strings.Contains(all, "hello: up to date") {
		t.Fatalf("the second build did not find the first one's binary:\n%s", all)
	}
	if _, err := tool.path(dir); err != nil {
		t.Fatalf("after build: %v", err)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, ".hello.build-*"))
	if len(matches) != 0 {
		t.Fatalf("temporary build files left behind: %v", matches)
	}
}

func TestBuildFailureNamesBinaryAndCause(t *testing.T) {
	root, tool := fakeRepo(t, `undefinedFunction()`)
	dir := t.TempDir()
	var out bytes.Buffer
	err := build(context.Background(), []Tool{tool}, dir, root, 0, &out)
	if err == nil {
		t.Fatal("build of a broken package succeeded")
	}
	for _, want := range []string{"building hello", "undefinedFunction"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if !strings.Contains(out.String(), "hello: FAILED") {
		t.Errorf("progress output does not report the failure:\n%s", out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "hello")); err == nil {
		t.Error("a failed build left a binary in the cache")
	}
}
