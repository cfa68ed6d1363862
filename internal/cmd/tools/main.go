// Command tools builds the pinned Kubernetes binaries that vclusterkit's
// tests and examples run into the shared cache directory (make tools).
//
//	go run ./internal/cmd/tools [-dir DIR] [NAME ...]
//	go run ./internal/cmd/tools -print-dir
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/vclusterkit/vclusterkit/internal/binaries"
)

func main() {
	dir := flag.String("dir", "", "cache directory (default $"+binaries.EnvDir+" or the user cache dir)")
	printDir := flag.Bool("print-dir", false, "print the cache directory and exit")
	flag.Parse()
	if *printDir {
		d := *dir
		if d == "" {
			var err error
			if d, err = binaries.Dir(); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		fmt.Println(d)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := binaries.Build(ctx, binaries.BuildOptions{Dir: *dir, Names: flag.Args()}); err != nil {
		fmt.Fprintln(os.Stderr, "make tools failed:", err)
		os.Exit(1)
	}
}
