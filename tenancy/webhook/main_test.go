package webhook_test

import (
	"testing"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/tenancy"
)

var apiServer *testenv.APIServer

func TestMain(m *testing.M) {
	crds, err := tenancy.CRDs()
	if err != nil {
		panic(err) // embedded manifests: a build problem
	}
	testenv.Main(m, testenv.APIServerOptions{CRDs: crds}, &apiServer)
}
