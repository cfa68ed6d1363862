package testenv

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"testing"
)

type bytesBuffer = bytes.Buffer

// Main is the TestMain of a package whose tests need real API servers: it
// starts one APIServer per pointer in envs (concurrently), stores it there,
// runs the tests, stops everything and exits with the tests' code. If an
// API server cannot start (a missing binary included), it prints why and
// exits non-zero without running tests: a failure, never a skip.
//
//	var host *testenv.APIServer
//	func TestMain(m *testing.M) { testenv.Main(m, testenv.APIServerOptions{}, &host) }
func Main(m *testing.M, opts APIServerOptions, envs ...**APIServer) {
	os.Exit(run(m, opts, envs))
}

func run(m *testing.M, opts APIServerOptions, envs []**APIServer) int {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, dst := range envs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := StartAPIServer(opts)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			*dst = s
		}()
	}
	wg.Wait()
	defer func() {
		for _, dst := range envs {
			if err := (*dst).Stop(); err != nil {
				fmt.Fprintln(os.Stderr, "testenv: stopping API server:", err)
			}
		}
	}()
	if len(errs) > 0 {
		for _, err := range errs {
			fmt.Fprintln(os.Stderr, "testenv:", err)
		}
		fmt.Fprintln(os.Stderr, "FAIL: the tests of this package need real API servers (see above)")
		return 1
	}
	return m.Run()
}
