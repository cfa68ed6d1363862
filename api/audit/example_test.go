package audit_test

import (
	"context"
	"os"
	"time"

	"github.com/vclusterkit/vclusterkit/api/audit"
)

func ExampleJSONLines() {
	s := audit.NewJSONLines(os.Stdout)
	_ = s.Record(context.Background(), audit.Event{Time: time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC), Actor: "alice", Method: "oidc",
		Action: "virtualcluster.sleep", Tenant: "acme-web", Target: "web", Result: audit.ResultSuccess, Code: 200})
	// Output:
	// {"time":"2026-12-07T02:00:00Z","actor":"alice","method":"oidc","action":"virtualcluster.sleep","tenant":"acme-web","target":"web","result":"success","code":200}
}
