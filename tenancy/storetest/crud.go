package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

func (s suite) tenantCRUD(t *testing.T, st tenancy.Store) {
	c := ctx(t)
	in := newTenant("acme", "")
	in.Spec.DisplayName = "ACME Corp"
	in.Spec.Quota = rl("cpu", "10", "memory", "20Gi")
	in.Spec.Members = []tenancy.Member{{Kind: tenancy.MemberGroup, Name: "admins", Role: tenancy.RoleAdmin}}
	in.Spec.Policy.PodSecurity = tenancy.PodSecurityBaseline
	in.Labels = map[string]string{"env": "prod"}
	orig := in.DeepCopy()
	got := mustCreate(t, st, in)
	if d := cmp.Diff(orig, in, cmpOpts); d != "" {
		t.Errorf("CreateTenant modified its argument:\n%s", d)
	}
	if got.ResourceVersion == "" || got.UID == "" || got.CreationTimestamp.IsZero() || got.Generation != 1 {
		t.Errorf("created tenant lacks metadata: rv=%q uid=%q created=%v generation=%d",
			got.ResourceVersion, got.UID, got.CreationTimestamp, got.Generation)
	}
	if d := cmp.Diff(in.Spec, got.Spec, cmpOpts); d != "" {
		t.Errorf("spec (-sent +stored):\n%s", d)
	}
	if got.Labels["env"] != "prod" {
		t.Errorf("labels not stored: %v", got.Labels)
	}
	read, err := st.GetTenant(c, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(got.Spec, read.Spec, cmpOpts); d != "" || read.ResourceVersion != got.ResourceVersion || read.UID != got.UID {
		t.Errorf("GetTenant differs from the created object: rv %q/%q\n%s", got.ResourceVersion, read.ResourceVersion, d)
	}
	child := mustCreate(t, st, newTenant("eng", "acme"))
	list, err := st.ListTenants(c)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range list.Items {
		names = append(names, x.Name)
	}
	if d := cmp.Diff([]string{"acme", "eng"}, names); d != "" {
		t.Errorf("ListTenants names (-want +got):\n%s", d)
	}
	if list.ResourceVersion == "" {
		t.Errorf("ListTenants has no resourceVersion")
	}

	upd := read.DeepCopy()
	upd.Spec.DisplayName = "ACME Corporation"
	upd.Spec.Policy.PodSecurity = tenancy.PodSecurityRestricted
	updated, err := st.UpdateTenant(c, upd)
	if err != nil {
		t.Fatal(err)
	}
	if updated.ResourceVersion == read.ResourceVersion || updated.Generation != 2 || updated.UID != read.UID {
		t.Errorf("update: rv %q -> %q, generation %d, uid %q -> %q", read.ResourceVersion, updated.ResourceVersion, updated.Generation, read.UID, updated.UID)
	}
	if updated.Spec.DisplayName != "ACME Corporation" {
		t.Errorf("update not applied: %+v", updated.Spec)
	}
	read, _ = st.GetTenant(c, "acme")
	if read.Spec.Policy.PodSecurity != tenancy.PodSecurityRestricted || read.ResourceVersion != updated.ResourceVersion {
		t.Errorf("GetTenant after update: %+v rv %q", read.Spec.Policy, read.ResourceVersion)
	}
	// An empty resourceVersion writes unconditionally.
	blind := read.DeepCopy()
	blind.ResourceVersion = ""
	blind.Spec.DisplayName = "blind"
	if _, err := st.UpdateTenant(c, blind); err != nil {
		t.Errorf("unconditional update: %v", err)
	}

	if err := st.DeleteTenant(c, "eng", tenancy.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetTenant(c, child.Name); !errors.Is(err, tenancy.ErrNotFound) {
		t.Errorf("Get after delete: %v", err)
	}
	if err := st.DeleteTenant(c, "acme", tenancy.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if list, _ := st.ListTenants(c); len(list.Items) != 0 {
		t.Errorf("tenants left after delete: %d", len(list.Items))
	}
}

func (s suite) spaceCRUD(t *testing.T, st tenancy.Store) {
	c := ctx(t)
	mustCreate(t, st, func() *tenancy.Tenant { x := newTenant("acme", ""); x.Spec.Quota = rl("cpu", "8"); return x }())
	in := newSpace("acme-prod", "acme")
	in.Spec.Quota = rl("cpu", "4")
	in.Spec.Labels = map[string]string{"team": "web"}
	in.Spec.Template = "basic"
	got := mustCreateSpace(t, st, in)
	if got.ResourceVersion == "" || got.UID == "" || got.Generation != 1 {
		t.Errorf("created space lacks metadata: %+v", got.ObjectMeta)
	}
	if d := cmp.Diff(in.Spec, got.Spec, cmpOpts); d != "" {
		t.Errorf("spec (-sent +stored):\n%s", d)
	}
	read, err := st.GetSpace(c, "acme-prod")
	if err != nil {
		t.Fatal(err)
	}
	if read.ResourceVersion != got.ResourceVersion {
		t.Errorf("GetSpace rv %q, created %q", read.ResourceVersion, got.ResourceVersion)
	}
	mustCreateSpace(t, st, newSpace("acme-dev", "acme"))
	list, err := st.ListSpaces(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 2 || list.Items[0].Name != "acme-dev" || list.Items[1].Name != "acme-prod" {
		t.Errorf("ListSpaces: %v", list.Items)
	}
	upd := read.DeepCopy()
	upd.Spec.Quota = rl("cpu", "6")
	updated, err := st.UpdateSpace(c, upd)
	if err != nil {
		t.Fatal(err)
	}
	if updated.Generation != 2 || updated.ResourceVersion == read.ResourceVersion {
		t.Errorf("update metadata: %+v", updated.ObjectMeta)
	}
	if err := st.DeleteSpace(c, "acme-prod"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetSpace(c, "acme-prod"); !errors.Is(err, tenancy.ErrNotFound) {
		t.Errorf("Get after delete: %v", err)
	}
}

func (s suite) status(t *testing.T, st tenancy.Store) {
	c := ctx(t)
	tn := mustCreate(t, st, newTenant("acme", ""))
	tn.Status.Spaces = 3
	tn.Status.Usage = rl("cpu", "1500m")
	tn.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Reconciled",
		LastTransitionTime: metav1.NewTime(time.Now().UTC().Truncate(time.Second))}}
	tn.Spec.DisplayName = "ignored by a status write"
	got, err := st.UpdateTenantStatus(c, tn)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.Spaces != 3 || len(got.Status.Conditions) != 1 || got.Spec.DisplayName != "" {
		t.Errorf("status write: status %+v, spec %+v", got.Status, got.Spec)
	}
	// A spec write keeps the status.
	got.Spec.DisplayName = "Acme"
	got, err = st.UpdateTenant(c, got)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.Spaces != 3 {
		t.Errorf("UpdateTenant dropped the status: %+v", got.Status)
	}
	if _, err := st.UpdateTenantStatus(c, tn); !errors.Is(err, tenancy.ErrConflict) {
		t.Errorf("stale status write: %v", err)
	}
	mustCreateSpace(t, st, newSpace("acme-prod", "acme"))
	sp, _ := st.GetSpace(c, "acme-prod")
	sp.Status.Usage = rl("cpu", "1")
	got2, err := st.UpdateSpaceStatus(c, sp)
	if err != nil {
		t.Fatal(err)
	}
	if q := got2.Status.Usage[corev1.ResourceCPU]; q.Cmp(resource.MustParse("1")) != 0 {
		t.Errorf("space status: %+v", got2.Status)
	}
}

func (s suite) notFound(t *testing.T, st tenancy.Store) {
	c := ctx(t)
	_, err := st.GetTenant(c, "ghost")
	wantErr(t, err, tenancy.ErrNotFound, "GetTenant")
	_, err = st.UpdateTenant(c, newTenant("ghost", ""))
	wantErr(t, err, tenancy.ErrNotFound, "UpdateTenant")
	_, err = st.UpdateTenantStatus(c, newTenant("ghost", ""))
	wantErr(t, err, tenancy.ErrNotFound, "UpdateTenantStatus")
	wantErr(t, st.DeleteTenant(c, "ghost", tenancy.DeleteOptions{}), tenancy.ErrNotFound, "DeleteTenant")
	_, err = st.GetSpace(c, "ghost")
	wantErr(t, err, tenancy.ErrNotFound, "GetSpace")
	_, err = st.UpdateSpace(c, newSpace("ghost", "x"))
	wantErr(t, err, tenancy.ErrNotFound, "UpdateSpace")
	_, err = st.UpdateSpaceStatus(c, newSpace("ghost", "x"))
	wantErr(t, err, tenancy.ErrNotFound, "UpdateSpaceStatus")
	wantErr(t, st.DeleteSpace(c, "ghost"), tenancy.ErrNotFound, "DeleteSpace")
}

func (s suite) alreadyExists(t *testing.T, st tenancy.Store) {
	c := ctx(t)
	first := mustCreate(t, st, newTenant("acme", ""))
	dup := newTenant("acme", "")
	dup.Spec.DisplayName = "second"
	_, err := st.CreateTenant(c, dup)
	wantErr(t, err, tenancy.ErrAlreadyExists, "CreateTenant twice")
	mustCreateSpace(t, st, newSpace("prod", "acme"))
	_, err = st.CreateSpace(c, newSpace("prod", "acme"))
	wantErr(t, err, tenancy.ErrAlreadyExists, "CreateSpace twice")
	got, _ := st.GetTenant(c, "acme")
	if got.ResourceVersion != first.ResourceVersion || got.Spec.DisplayName != "" {
		t.Errorf("a refused create changed the stored tenant: %+v", got)
	}
}

func (s suite) conflict(t *testing.T, st tenancy.Store) {
	c := ctx(t)
	v1 := mustCreate(t, st, newTenant("acme", ""))
	v2 := v1.DeepCopy()
	v2.Spec.DisplayName = "first"
	if _, err := st.UpdateTenant(c, v2); err != nil {
		t.Fatal(err)
	}
	stale := v1.DeepCopy()
	stale.Spec.DisplayName = "stale"
	_, err := st.UpdateTenant(c, stale)
	wantErr(t, err, tenancy.ErrConflict, "stale UpdateTenant")
	got, _ := st.GetTenant(c, "acme")
	if got.Spec.DisplayName != "first" {
		t.Errorf("stale write applied: %q", got.Spec.DisplayName)
	}
	sp := mustCreateSpace(t, st, newSpace("prod", "acme"))
	sp2 := sp.DeepCopy()
	sp2.Spec.Template = "a"
	if _, err := st.UpdateSpace(c, sp2); err != nil {
		t.Fatal(err)
	}
	sp.Spec.Template = "b"
	_, err = st.UpdateSpace(c, sp)
	wantErr(t, err, tenancy.ErrConflict, "stale UpdateSpace")
}

func (s suite) concurrentUpdates(t *testing.T, st tenancy.Store) {
	base := mustCreate(t, st, newTenant("acme", ""))
	n := s.opts.Concurrency
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			u := base.DeepCopy()
			u.Spec.DisplayName = fmt.Sprintf("writer-%d", i)
			<-start
			_, errs[i] = st.UpdateTenant(ctx(t), u)
		})
	}
	close(start)
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Errorf("writers %d and %d both won", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, tenancy.ErrConflict):
			t.Errorf("writer %d: want ErrConflict, got %v", i, err)
		}
	}
	if won < 0 {
		t.Fatalf("no writer won")
	}
	got, _ := st.GetTenant(ctx(t), "acme")
	if want := fmt.Sprintf("writer-%d", won); got.Spec.DisplayName != want {
		t.Errorf("stored %q, winner was %q", got.Spec.DisplayName, want)
	}
}

// Two roots re-parented under each other at the same time: each write is
// valid alone, together they form a cycle. Exactly one may succeed.
func (s suite) concurrentReparentCycle(t *testing.T, st tenancy.Store) {
	rounds := 3
	for r := range rounds {
		a := mustCreate(t, st, newTenant(fmt.Sprintf("a%d", r), ""))
		b := mustCreate(t, st, newTenant(fmt.Sprintf("b%d", r), ""))
		// Also a longer loop: c -> d -> e (chain), and e's root moved under
		// the chain's bottom while the chain's root moves under e.
		moves := []*tenancy.Tenant{a.DeepCopy(), b.DeepCopy()}
		moves[0].Spec.Parent = b.Name
		moves[1].Spec.Parent = a.Name
		errs := make([]error, len(moves))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, m := range moves {
			wg.Go(func() {
				<-start
				_, errs[i] = st.UpdateTenant(ctx(t), m)
			})
		}
		close(start)
		wg.Wait()
		ok := 0
		for i, err := range errs {
			if err == nil {
				ok++
				continue
			}
			if !errors.Is(err, tenancy.ErrInvalid) || !strings.Contains(err.Error(), "cycle") {
				t.Errorf("round %d move %d: want ErrInvalid naming a cycle, got %v", r, i, err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d of 2 cycle-forming re-parentings succeeded, want exactly 1", r, ok)
		}
		ga, _ := st.GetTenant(ctx(t), a.Name)
		gb, _ := st.GetTenant(ctx(t), b.Name)
		if ga.Spec.Parent == b.Name && gb.Spec.Parent == a.Name {
			t.Fatalf("round %d: the store holds a cycle", r)
		}
	}
}

// Creates of one name race: exactly one wins, the others get
// ErrAlreadyExists.
func (s suite) concurrentCreates(t *testing.T, st tenancy.Store) {
	n := s.opts.Concurrency
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			tn := newTenant("acme", "")
			tn.Spec.DisplayName = fmt.Sprint("creator-", i)
			<-start
			_, errs[i] = st.CreateTenant(ctx(t), tn)
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, tenancy.ErrAlreadyExists):
			t.Errorf("creator %d: want ErrAlreadyExists, got %v", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d creators won, want 1", won)
	}
}

// Deleting a parent while a child is created under it: one of them fails,
// and the store never holds an orphan.
func (s suite) concurrentDeleteAndCreateChild(t *testing.T, st tenancy.Store) {
	for round := range 5 {
		parent := fmt.Sprintf("p%d", round)
		child := fmt.Sprintf("c%d", round)
		mustCreate(t, st, newTenant(parent, ""))
		var delErr, createErr error
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Go(func() { <-start; delErr = st.DeleteTenant(ctx(t), parent, tenancy.DeleteOptions{}) })
		wg.Go(func() { <-start; _, createErr = st.CreateTenant(ctx(t), newTenant(child, parent)) })
		close(start)
		wg.Wait()
		switch {
		case delErr == nil && createErr == nil:
			t.Fatalf("round %d: both the delete and the child create succeeded: %s is an orphan", round, child)
		case delErr == nil:
			wantInvalid(t, createErr, "spec.parent", "Not found")
		case createErr == nil:
			wantErr(t, delErr, tenancy.ErrHasDependents, "delete of a parent that got a child")
		default:
			t.Fatalf("round %d: both failed: %v; %v", round, delErr, createErr)
		}
		_, perr := st.GetTenant(ctx(t), parent)
		_, cerr := st.GetTenant(ctx(t), child)
		if errors.Is(perr, tenancy.ErrNotFound) && cerr == nil {
			t.Fatalf("round %d: the store holds the orphan %s", round, child)
		}
	}
}
