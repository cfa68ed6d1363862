package kubestore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/kubestore"
	"github.com/vclusterkit/vclusterkit/tenancy/storetest"
)

var apiServer *testenv.APIServer

func TestMain(m *testing.M) {
	crds, err := tenancy.CRDs()
	if err != nil {
		panic(err) // embedded manifests: a build problem
	}
	testenv.Main(m, testenv.APIServerOptions{CRDs: crds}, &apiServer)
}

var stores int

// newStore returns a store on the shared API server after removing what
// earlier tests left.
func newStore(t testing.TB) *kubestore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stores++
	s, err := kubestore.New(ctx, apiServer.Config, kubestore.Options{Identity: fmt.Sprintf("test-%d", stores)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	clean(t, s)
	return s
}

func clean(t testing.TB, s *kubestore.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := s.Client()
	if err := c.DeleteAllOf(ctx, &tenancy.Space{}); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteAllOf(ctx, &tenancy.Tenant{}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextCancel(ctx, 20*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		tl, err := s.ListTenants(ctx)
		if err != nil {
			return false, err
		}
		sl, err := s.ListSpaces(ctx)
		if err != nil {
			return false, err
		}
		var direct tenancy.TenantList
		if err := c.List(ctx, &direct, client.Limit(1)); err != nil {
			return false, err
		}
		return len(tl.Items) == 0 && len(sl.Items) == 0 && len(direct.Items) == 0, nil
	})
	if err != nil {
		t.Fatalf("cleaning up: %v", err)
	}
}

func TestConformance(t *testing.T) {
	t.Cleanup(func() { apiServer.LogsOnFailure(t) })
	storetest.RunWithOptions(t, func(t *testing.T) tenancy.Store { return newStore(t) },
		storetest.Options{LargeTree: 150})
}

func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, func(b *testing.B) tenancy.Store { return newStore(b) })
}
