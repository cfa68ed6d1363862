package provisionertest_test

import (
	"context"
	"os"
	"testing"

	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/local"
	"github.com/vclusterkit/vclusterkit/vcluster/provisionertest"
)

// A provider's test runs the kit against its provisioner and says how to
// find what a virtual cluster left behind.
func ExampleRun() {
	// In a _test.go file:
	_ = func(t *testing.T) {
		p, err := local.New(local.Options{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		provisionertest.Run(t, provisionertest.Options{
			Provisioner: p,
			Leftovers: func(ctx context.Context, vc *vcluster.VirtualCluster) ([]string, error) {
				if _, err := os.Stat(p.StateDir(vc)); err == nil {
					return []string{p.StateDir(vc)}, nil
				}
				return nil, nil
			},
		})
	}
}
