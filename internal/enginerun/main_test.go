package enginerun_test

import (
	"testing"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
)

var apiServer *testenv.APIServer

func TestMain(m *testing.M) { testenv.Main(m, testenv.APIServerOptions{}, &apiServer) }
