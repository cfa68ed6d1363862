package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

func (s suite) deleteCascade(t *testing.T, st tenancy.Store) {
	c := ctx(t)
	mustCreate(t, st, newTenant("org", ""))
	mustCreate(t, st, newTenant("team", "org"))
	mustCreate(t, st, newTenant("proj", "team"))
	mustCreate(t, st, newTenant("other", ""))
	mustCreateSpace(t, st, newSpace("org-infra", "org"))
	mustCreateSpace(t, st, newSpace("proj-dev", "proj"))
	mustCreateSpace(t, st, newSpace("other-dev", "other"))
	before := snap(t, st)
	err := st.DeleteTenant(c, "org", tenancy.DeleteOptions{})
	wantErr(t, err, tenancy.ErrHasDependents, "delete with children")
	if !strings.Contains(err.Error(), "team") || !strings.Contains(err.Error(), "org-infra") {
		t.Errorf("the refusal does not list the children and spaces: %v", err)
	}
	err = st.DeleteTenant(c, "proj", tenancy.DeleteOptions{})
	wantErr(t, err, tenancy.ErrHasDependents, "delete with a space")
	if d := cmp.Diff(before, snap(t, st)); d != "" {
		t.Errorf("refused deletes changed the store (-before +after):\n%s", d)
	}
	list, err := st.ListTenants(c)
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(c)
	defer cancel()
	w, err := st.WatchTenants(wctx, list.ResourceVersion)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteTenant(c, "org", tenancy.DeleteOptions{Cascade: true}); err != nil {
		t.Fatal(err)
	}
	// Children go before their parents.
	var order []string
	for _, e := range s.collectTenants(t, w, 3) {
		if e.Type != tenancy.EventDeleted {
			t.Errorf("unexpected %s event for %s", e.Type, e.Name)
		}
		order = append(order, e.Name)
	}
	if d := cmp.Diff([]string{"proj", "team", "org"}, order); d != "" {
		t.Errorf("cascade order (-want +got):\n%s", d)
	}
	after := snap(t, st)
	want := snapshot{Tenants: map[string]string{"other": before.Tenants["other"]}, Spaces: map[string]string{"other-dev": before.Spaces["other-dev"]}}
	if d := cmp.Diff(want, after); d != "" {
		t.Errorf("after cascade (-want +got):\n%s", d)
	}
}

type ev struct {
	Type tenancy.EventType
	Kind string
	Name string
	RV   string
}

func (s suite) collectTenants(t *testing.T, ch <-chan tenancy.TenantEvent, n int) []ev {
	t.Helper()
	return collect(t, s.opts.EventTimeout, ch, n, tenancy.KindTenant,
		func(e tenancy.TenantEvent) (tenancy.EventType, metav1.Object, error) { return e.Type, e.Tenant, e.Err })
}

func (s suite) collectSpaces(t *testing.T, ch <-chan tenancy.SpaceEvent, n int) []ev {
	t.Helper()
	return collect(t, s.opts.EventTimeout, ch, n, tenancy.KindSpace,
		func(e tenancy.SpaceEvent) (tenancy.EventType, metav1.Object, error) { return e.Type, e.Space, e.Err })
}

// collect reads n events of kind from ch, failing the test if the watch
// closes, sends an EventError or stalls for timeout. split takes an event
// apart; its object is only used when the type is not EventError.
func collect[E any](t *testing.T, timeout time.Duration, ch <-chan E, n int, kind string,
	split func(E) (tenancy.EventType, metav1.Object, error)) []ev {
	t.Helper()
	var out []ev
	for len(out) < n {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("watch closed after %d of %d events", len(out), n)
			}
			typ, obj, err := split(e)
			if typ == tenancy.EventError {
				t.Fatalf("watch error: %v", err)
			}
			out = append(out, ev{typ, kind, obj.GetName(), obj.GetResourceVersion()})
		case <-time.After(timeout):
			t.Fatalf("timed out after %d of %d events: %v", len(out), n, out)
		}
	}
	return out
}

// noMore checks that nothing else arrives for a short while.
func noMore[E any](t *testing.T, ch <-chan E) {
	t.Helper()
	select {
	case e := <-ch:
		t.Errorf("unexpected extra event %+v", e)
	case <-time.After(300 * time.Millisecond):
	}
}

func (s suite) watchOrder(t *testing.T, st tenancy.Store) {
	c, cancel := context.WithCancel(ctx(t))
	defer cancel()
	mustCreate(t, st, newTenant("before", "")) // not delivered: before the watch
	tw, err := st.WatchTenants(c, "")
	if err != nil {
		t.Fatal(err)
	}
	sw, err := st.WatchSpaces(c, "")
	if err != nil {
		t.Fatal(err)
	}
	var want, wantSpaces []ev
	add := func(typ tenancy.EventType, name, rv string) {
		want = append(want, ev{typ, tenancy.KindTenant, name, rv})
	}
	a := mustCreate(t, st, newTenant("a", ""))
	add(tenancy.EventAdded, "a", a.ResourceVersion)
	b := mustCreate(t, st, newTenant("b", "a"))
	add(tenancy.EventAdded, "b", b.ResourceVersion)
	sp := mustCreateSpace(t, st, newSpace("b-dev", "b"))
	wantSpaces = append(wantSpaces, ev{tenancy.EventAdded, tenancy.KindSpace, "b-dev", sp.ResourceVersion})
	for i := range 5 {
		a.Spec.DisplayName = fmt.Sprint("v", i)
		if a, err = st.UpdateTenant(c, a); err != nil {
			t.Fatal(err)
		}
		add(tenancy.EventModified, "a", a.ResourceVersion)
	}
	if err := st.DeleteSpace(c, "b-dev"); err != nil {
		t.Fatal(err)
	}
	wantSpaces = append(wantSpaces, ev{tenancy.EventDeleted, tenancy.KindSpace, "b-dev", ""})
	if err := st.DeleteTenant(c, "b", tenancy.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	add(tenancy.EventDeleted, "b", "")
	got := s.collectTenants(t, tw, len(want))
	gotSpaces := s.collectSpaces(t, sw, len(wantSpaces))
	ignoreDeleteRV := func(evs []ev) []ev {
		out := append([]ev(nil), evs...)
		for i := range out {
			if out[i].Type == tenancy.EventDeleted {
				if out[i].RV == "" {
					t.Errorf("deleted event for %s has no resourceVersion", out[i].Name)
				}
				out[i].RV = ""
			}
		}
		return out
	}
	if d := cmp.Diff(want, ignoreDeleteRV(got)); d != "" {
		t.Errorf("tenant events (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantSpaces, ignoreDeleteRV(gotSpaces)); d != "" {
		t.Errorf("space events (-want +got):\n%s", d)
	}
	noMore(t, tw)
}

func (s suite) watchResume(t *testing.T, st tenancy.Store) {
	c, cancel := context.WithCancel(ctx(t))
	defer cancel()
	var versions []string
	x := mustCreate(t, st, newTenant("x", ""))
	versions = append(versions, x.ResourceVersion)
	for i := range 4 {
		x.Spec.DisplayName = fmt.Sprint("v", i)
		var err error
		if x, err = st.UpdateTenant(c, x); err != nil {
			t.Fatal(err)
		}
		versions = append(versions, x.ResourceVersion)
	}
	// Resuming from the second change delivers the third and later, in order.
	w, err := st.WatchTenants(c, versions[1])
	if err != nil {
		t.Fatal(err)
	}
	got := s.collectTenants(t, w, 3)
	var gotRVs []string
	for _, e := range got {
		gotRVs = append(gotRVs, e.RV)
	}
	if d := cmp.Diff(versions[2:], gotRVs); d != "" {
		t.Errorf("resumed events (-want +got):\n%s", d)
	}
	noMore(t, w)
	// A list's version: only later changes.
	list, err := st.ListTenants(c)
	if err != nil {
		t.Fatal(err)
	}
	w2, err := st.WatchTenants(c, list.ResourceVersion)
	if err != nil {
		t.Fatal(err)
	}
	y := mustCreate(t, st, newTenant("y", ""))
	got = s.collectTenants(t, w2, 1)
	if got[0].Name != "y" || got[0].RV != y.ResourceVersion {
		t.Errorf("watch from list version: got %+v, want y@%s", got[0], y.ResourceVersion)
	}
	// The watch ends when its context does.
	cancel()
	select {
	case _, ok := <-w2:
		for ok {
			_, ok = <-w2
		}
	case <-time.After(s.opts.EventTimeout):
		t.Errorf("watch not closed after its context ended")
	}
}

func (s suite) largeTree(t *testing.T, st tenancy.Store) {
	c := ctx(t)
	n := s.opts.LargeTree
	const fanout = 5
	name := func(i int) string { return fmt.Sprintf("t%d", i) }
	for i := range n {
		parent := ""
		if i > 0 {
			parent = name((i - 1) / fanout)
		}
		tn := newTenant(name(i), parent)
		if i == 0 {
			tn.Spec.Policy.PodSecurity = tenancy.PodSecurityBaseline
		}
		mustCreate(t, st, tn)
	}
	mustCreateSpace(t, st, newSpace("leaf-space", name(n-1)))
	list, err := st.ListTenants(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != n {
		t.Fatalf("listed %d of %d tenants", len(list.Items), n)
	}
	tr, err := tenancy.NewTree(list.Items, nil, tenancy.TreeOptions{})
	if err != nil {
		t.Fatalf("the stored tree is invalid: %v", err)
	}
	if got := len(tr.Descendants(name(0))); got != n-1 {
		t.Errorf("descendants of the root: %d", got)
	}
	// Moving the root under its deepest leaf is a cycle.
	root, _ := st.GetTenant(c, name(0))
	root.Spec.Parent = name(n - 1)
	_, err = st.UpdateTenant(c, root)
	wantInvalid(t, err, "spec.parent", "cycle")
	// A deep leaf loosening the root's policy names the root.
	leaf, _ := st.GetTenant(c, name(n-1))
	leaf.Spec.Policy.PodSecurity = tenancy.PodSecurityPrivileged
	_, err = st.UpdateTenant(c, leaf)
	wantInvalid(t, err, "spec.policy.podSecurity", `set by ancestor "t0"`)
	err = st.DeleteTenant(c, name(0), tenancy.DeleteOptions{})
	wantErr(t, err, tenancy.ErrHasDependents, "delete the root")
	if err := st.DeleteTenant(c, name(0), tenancy.DeleteOptions{Cascade: true}); err != nil {
		t.Fatal(err)
	}
	after := snap(t, st)
	if len(after.Tenants) != 0 || len(after.Spaces) != 0 {
		t.Errorf("left after cascade: %d tenants, %d spaces", len(after.Tenants), len(after.Spaces))
	}
}
