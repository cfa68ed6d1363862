package vcluster_test

import (
	"testing"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

// api is a real kube-apiserver (with etcd) with the VirtualCluster CRD installed.
var api *testenv.APIServer

func TestMain(m *testing.M) {
	crds, err := vcluster.CRDs()
	if err != nil {
		panic(err)
	}
	testenv.Main(m, testenv.APIServerOptions{CRDs: crds}, &api)
}
