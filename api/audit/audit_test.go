package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vclusterkit/vclusterkit/api/audit"
)

// TestJSONLinesConcurrent writes from many goroutines and reads every line
// back whole: lines never interleave.
func TestJSONLinesConcurrent(t *testing.T) {
	var buf bytes.Buffer
	s := audit.NewJSONLines(&buf)
	var wg sync.WaitGroup
	want := map[string]audit.Event{}
	for i := range 50 {
		e := audit.Event{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Actor: fmt.Sprintf("user-%d", i), Method: "oidc",
			Action: "virtualcluster.create", Tenant: "acme", Target: fmt.Sprintf("vc-%d", i), Result: audit.ResultSuccess, Code: 201}
		want[e.Actor] = e
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Record(context.Background(), e); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got := map[string]audit.Event{}
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var e audit.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got[e.Actor] = e
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
}
