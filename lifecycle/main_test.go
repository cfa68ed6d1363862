package lifecycle_test

import (
	"testing"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/tenancy"
)

var apiServer *testenv.APIServer

func TestMain(m *testing.M) {
	crds, err := tenancy.CRDs()
	if err != nil {
		panic(err)
	}
	testenv.Main(m, testenv.APIServerOptions{CRDs: crds}, &apiServer)
}
