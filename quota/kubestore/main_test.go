package kubestore_test

import (
	"testing"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
)

var host *testenv.APIServer

func TestMain(m *testing.M) { testenv.Main(m, testenv.APIServerOptions{}, &host) }
