package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vclusterkit/vclusterkit/api"
	"github.com/vclusterkit/vclusterkit/api/auth"
	"github.com/vclusterkit/vclusterkit/tenancy"
)

// stream opens /events with token and sends the names of the virtual
// clusters its events are about on the returned channel.
func stream(t *testing.T, ctx context.Context, token string) <-chan string {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", pf.Server.URL+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("events: %d", resp.StatusCode)
	}
	names := make(chan string, 100)
	go func() {
		defer resp.Body.Close()
		defer close(names)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var ev api.Event
				if json.Unmarshal([]byte(d), &ev) == nil && ev.VirtualCluster != nil {
					names <- ev.VirtualCluster.Name
				}
			}
		}
	}()
	return names
}

// The event stream through an API key scoped to acme-web says nothing of
// a virtual cluster of acme-data, although the key's owner (alice, admin
// of acme) sees both; a member of acme-data sees it on the same stream.
func TestEventsThroughScopedKey(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	alice := pf.Token("alice")
	_, key, err := pf.Keys.Issue(ctx, &auth.Identity{Name: "alice"}, "events-scope", "acme-web", tenancy.RoleView, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	scoped := stream(t, ctx, key)
	carol := stream(t, ctx, pf.Token("carol"))
	// acme-data's first: events come in order on one stream, so once the
	// key has seen acme-web's, it would have seen acme-data's before.
	for _, vc := range []api.CreateVirtualCluster{{Name: "ev-data", Tenant: "acme-data"}, {Name: "ev-web", Tenant: "acme-web"}} {
		if a := call(t, "POST", "/virtualclusters", alice, vc); a.code != 201 {
			t.Fatalf("creating %s: %d %s", vc.Name, a.code, a.body)
		}
		defer call(t, "DELETE", "/virtualclusters/"+vc.Name, alice, nil)
	}
	wait := func(who string, names <-chan string, want string) []string {
		var seen []string
		deadline := time.After(time.Minute)
		for {
			select {
			case n, ok := <-names:
				if !ok {
					t.Fatalf("%s's stream ended; saw %v", who, seen)
				}
				seen = append(seen, n)
				if n == want {
					return seen
				}
			case <-deadline:
				t.Fatalf("%s saw no event of %s within a minute; saw %v", who, want, seen)
			}
		}
	}
	for _, n := range wait("the scoped key", scoped, "ev-web") {
		if n == "ev-data" {
			t.Fatal("the stream through a key scoped to acme-web carried an event of acme-data's ev-data")
		}
	}
	wait("carol", carol, "ev-data")
}
