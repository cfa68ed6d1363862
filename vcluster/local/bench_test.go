package local

import (
	"context"
	"fmt"
	"testing"

	"github.com/vclusterkit/vclusterkit/vcluster"
)

// BenchmarkProvisionSQLite measures Provision (until the API server
// answers) of a new virtual cluster on kine/SQLite; deprovisioning is not
// timed. go run ./internal/bench/provision compares it with a bare API
// server in the same run.
func BenchmarkProvisionSQLite(b *testing.B) {
	p, err := New(Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		vc := newVC(fmt.Sprintf("bench-%d", i))
		if _, err := p.Provision(ctx, vcluster.Request{Cluster: vc}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := p.Deprovision(ctx, vc); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
