package testenv

import (
	"os"
	"testing"
)

var shared *APIServer

func TestMain(m *testing.M) {
	if os.Getenv(crashEnv) != "" {
		// Child process of TestCrashLeavesNothing: it starts its own server.
		os.Exit(m.Run())
	}
	Main(m, APIServerOptions{}, &shared)
}
