package storetest

import (
	"context"
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

// Options tune Run. The zero value is ready to use.
type Options struct {
	// LargeTree is the number of tenants of the large-tree test; 0 means
	// 300.
	LargeTree int
	// Concurrency is the number of goroutines racing in the concurrency
	// tests; 0 means 8.
	Concurrency int
	// EventTimeout bounds the wait for each watch event; 0 means 20s.
	EventTimeout time.Duration
}

// NewStoreFunc returns an empty store for one subtest. It registers its
// own cleanup with t.Cleanup.
type NewStoreFunc func(t *testing.T) tenancy.Store

// Run runs the conformance suite with default Options.
func Run(t *testing.T, newStore NewStoreFunc) { RunWithOptions(t, newStore, Options{}) }

// RunWithOptions runs every conformance test as a subtest of t, each on a
// store of its own.
func RunWithOptions(t *testing.T, newStore NewStoreFunc, opts Options) {
	if opts.LargeTree <= 0 {
		opts.LargeTree = 300
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 8
	}
	if opts.EventTimeout <= 0 {
		opts.EventTimeout = 20 * time.Second
	}
	s := suite{opts: opts}
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, st tenancy.Store)
	}{
		{"TenantCRUD", s.tenantCRUD},
		{"SpaceCRUD", s.spaceCRUD},
		{"Status", s.status},
		{"NotFound", s.notFound},
		{"AlreadyExists", s.alreadyExists},
		{"Conflict", s.conflict},
		{"ConcurrentUpdates", s.concurrentUpdates},
		{"ConcurrentReparentCycle", s.concurrentReparentCycle},
		{"InvalidTenants", s.invalidTenants},
		{"InvalidUpdates", s.invalidUpdates},
		{"InvalidSpaces", s.invalidSpaces},
		{"DeleteCascade", s.deleteCascade},
		{"WatchOrder", s.watchOrder},
		{"WatchResume", s.watchResume},
		{"LargeTree", s.largeTree},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

type suite struct{ opts Options }

// quantities compare by value, whatever their textual form.
var cmpOpts = cmp.Options{cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func newTenant(name, parent string) *tenancy.Tenant {
	return &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: tenancy.TenantSpec{Parent: parent}}
}

func newSpace(name, owner string) *tenancy.Space {
	return &tenancy.Space{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: tenancy.SpaceSpec{Tenant: owner}}
}

func rl(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func mustCreate(t *testing.T, st tenancy.Store, tn *tenancy.Tenant) *tenancy.Tenant {
	t.Helper()
	out, err := st.CreateTenant(ctx(t), tn)
	if err != nil {
		t.Fatalf("CreateTenant(%s): %v", tn.Name, err)
	}
	return out
}

func mustCreateSpace(t *testing.T, st tenancy.Store, sp *tenancy.Space) *tenancy.Space {
	t.Helper()
	out, err := st.CreateSpace(ctx(t), sp)
	if err != nil {
		t.Fatalf("CreateSpace(%s): %v", sp.Name, err)
	}
	return out
}

func wantErr(t *testing.T, err, sentinel error, what string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("%s: want %v, got %v", what, sentinel, err)
	}
}

// wantInvalid checks for ErrInvalid with an error on field mentioning sub.
func wantInvalid(t *testing.T, err error, fieldPath, sub string) {
	t.Helper()
	var ie *tenancy.InvalidError
	if !errors.Is(err, tenancy.ErrInvalid) || !errors.As(err, &ie) {
		t.Fatalf("want *tenancy.InvalidError, got %T %v", err, err)
	}
	for _, fe := range ie.Errs {
		if fe.Field == fieldPath && strings.Contains(fe.Error(), sub) {
			return
		}
	}
	t.Fatalf("no error on %s mentioning %q in %v", fieldPath, sub, err)
}

// snapshot is the comparable state of a store: names, versions and specs.
type snapshot struct {
	Tenants map[string]string
	Spaces  map[string]string
}

func snap(t *testing.T, st tenancy.Store) snapshot {
	t.Helper()
	tl, err := st.ListTenants(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	sl, err := st.ListSpaces(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	s := snapshot{Tenants: map[string]string{}, Spaces: map[string]string{}}
	for _, x := range tl.Items {
		s.Tenants[x.Name] = x.ResourceVersion
	}
	for _, x := range sl.Items {
		s.Spaces[x.Name] = x.ResourceVersion
	}
	return s
}

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

func (s suite) invalidTenants(t *testing.T, st tenancy.Store) {
	c := ctx(t)
	parent := newTenant("org", "")
	parent.Spec.Policy.PodSecurity = tenancy.PodSecurityRestricted
	parent.Spec.Policy.AllowedStorageClasses = []string{"fast"}
	parent.Spec.Quota = rl("cpu", "4")
	mustCreate(t, st, parent)
	before := snap(t, st)
	with := func(name, p string, mod func(*tenancy.Tenant)) *tenancy.Tenant {
		x := newTenant(name, p)
		if mod != nil {
			mod(x)
		}
		return x
	}
	for _, tc := range []struct {
		name   string
		tenant *tenancy.Tenant
		field  string
		sub    string
	}{
		{"too long", with(strings.Repeat("a", 64), "", nil), "metadata.name", "no more than 63"},
		{"upper case", with("Acme", "", nil), "metadata.name", "lower case"},
		{"unicode", with("émile", "", nil), "metadata.name", "lower case"},
		{"empty", with("", "", nil), "metadata.name", "Required"},
		{"reserved kube-system", with("kube-system", "", nil), "metadata.name", "reserved"},
		{"reserved default", with("default", "", nil), "metadata.name", "reserved"},
		{"reserved kube-public", with("kube-public", "", nil), "metadata.name", "reserved"},
		{"reserved kube-node-lease", with("kube-node-lease", "", nil), "metadata.name", "reserved"},
		{"own parent", with("self", "self", nil), "spec.parent", "own parent"},
		{"missing parent", with("orphan", "ghost", nil), "spec.parent", "Not found"},
		{"bad parent name", with("kid", "Bad_Parent", nil), "spec.parent", "lower case"},
		{"negative quota", with("neg", "", func(x *tenancy.Tenant) { x.Spec.Quota = rl("cpu", "-1") }), "spec.quota[cpu]", "greater than or equal to 0"},
		{"quota above parent", with("big", "org", func(x *tenancy.Tenant) { x.Spec.Quota = rl("cpu", "5") }), "spec.quota[cpu]", `exceeds 4 set by ancestor "org"`},
		{"loosens pod security", with("lax", "org", func(x *tenancy.Tenant) { x.Spec.Policy.PodSecurity = tenancy.PodSecurityPrivileged }),
			"spec.policy.podSecurity", `set by ancestor "org"`},
		{"widens storage classes", with("wide", "org", func(x *tenancy.Tenant) { x.Spec.Policy.AllowedStorageClasses = []string{"slow"} }),
			"spec.policy.allowedStorageClasses[0]", `not allowed by ancestor "org"`},
		{"unknown enum", with("enum", "", func(x *tenancy.Tenant) { x.Spec.Policy.NetworkIsolation = "open" }), "spec.policy.networkIsolation", "Unsupported"},
		{"bad member", with("mem", "", func(x *tenancy.Tenant) {
			x.Spec.Members = []tenancy.Member{{Kind: tenancy.MemberUser, Name: "", Role: tenancy.RoleView}}
		}), "spec.members[0].name", "Required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := st.CreateTenant(c, tc.tenant)
			wantInvalid(t, err, tc.field, tc.sub)
		})
	}
	if d := cmp.Diff(before, snap(t, st)); d != "" {
		t.Errorf("rejected writes changed the store (-before +after):\n%s", d)
	}
}

func (s suite) invalidUpdates(t *testing.T, st tenancy.Store) {
	c := ctx(t)
	root := newTenant("root", "")
	root.Spec.Policy.PodSecurity = tenancy.PodSecurityBaseline
	root.Spec.Quota = rl("cpu", "8")
	mustCreate(t, st, root)
	a := mustCreate(t, st, newTenant("a", "root"))
	b := mustCreate(t, st, newTenant("b", "a"))
	c1 := mustCreate(t, st, newTenant("c", "b"))
	free := newTenant("free", "")
	mustCreate(t, st, free)
	kid := newTenant("kid", "free")
	kid.Spec.Quota = rl("cpu", "2")
	mustCreate(t, st, kid)
	sp := mustCreateSpace(t, st, newSpace("a-prod", "a"))
	before := snap(t, st)

	move := func(x *tenancy.Tenant, parent string) *tenancy.Tenant {
		y := x.DeepCopy()
		y.Spec.Parent = parent
		return y
	}
	_, err := st.UpdateTenant(c, move(a, "a"))
	wantInvalid(t, err, "spec.parent", "own parent")
	_, err = st.UpdateTenant(c, move(a, "c"))
	wantInvalid(t, err, "spec.parent", "cycle")
	_, err = st.UpdateTenant(c, move(b, "ghost"))
	wantInvalid(t, err, "spec.parent", "Not found")
	_, err = st.UpdateTenant(c, move(c1, "free"))
	wantInvalid(t, err, "spec.policy.podSecurity", `inherited from ancestor "root"`)
	loose := a.DeepCopy()
	loose.Spec.Policy.PodSecurity = tenancy.PodSecurityPrivileged
	_, err = st.UpdateTenant(c, loose)
	wantInvalid(t, err, "spec.policy.podSecurity", `set by ancestor "root"`)
	small := free.DeepCopy()
	got, _ := st.GetTenant(c, "free")
	small.ResourceVersion = got.ResourceVersion
	small.Spec.Quota = rl("cpu", "1")
	_, err = st.UpdateTenant(c, small)
	wantInvalid(t, err, "spec.quota", `descendant "kid"`)
	steal := sp.DeepCopy()
	steal.Spec.Tenant = "free"
	_, err = st.UpdateSpace(c, steal)
	wantInvalid(t, err, "spec.tenant", "immutable")
	if d := cmp.Diff(before, snap(t, st)); d != "" {
		t.Errorf("rejected updates changed the store (-before +after):\n%s", d)
	}
}

func (s suite) invalidSpaces(t *testing.T, st tenancy.Store) {
	c := ctx(t)
	x := newTenant("acme", "")
	x.Spec.Quota = rl("cpu", "2")
	mustCreate(t, st, x)
	before := snap(t, st)
	withQuota := newSpace("big", "acme")
	withQuota.Spec.Quota = rl("cpu", "3")
	negative := newSpace("neg", "acme")
	negative.Spec.Quota = rl("memory", "-1Gi")
	hijack := newSpace("hijack", "acme")
	hijack.Spec.Labels = map[string]string{tenancy.LabelTenant: "other"}
	for _, tc := range []struct {
		name  string
		space *tenancy.Space
		field string
		sub   string
	}{
		{"missing tenant", newSpace("orphan", "ghost"), "spec.tenant", "Not found"},
		{"no tenant", newSpace("none", ""), "spec.tenant", "Required"},
		{"reserved", newSpace("kube-system", "acme"), "metadata.name", "reserved"},
		{"upper case", newSpace("Prod", "acme"), "metadata.name", "lower case"},
		{"too long", newSpace(strings.Repeat("s", 64), "acme"), "metadata.name", "no more than 63"},
		{"quota above tenant", withQuota, "spec.quota[cpu]", `exceeds 2 set by tenant "acme"`},
		{"negative quota", negative, "spec.quota[memory]", "greater than or equal to 0"},
		{"engine label", hijack, "spec.labels[tenancy.vclusterkit.io/tenant]", "engine"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := st.CreateSpace(c, tc.space)
			wantInvalid(t, err, tc.field, tc.sub)
		})
	}
	if d := cmp.Diff(before, snap(t, st)); d != "" {
		t.Errorf("rejected writes changed the store (-before +after):\n%s", d)
	}
}

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
	var out []ev
	for len(out) < n {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("watch closed after %d of %d events", len(out), n)
			}
			if e.Type == tenancy.EventError {
				t.Fatalf("watch error: %v", e.Err)
			}
			out = append(out, ev{e.Type, tenancy.KindTenant, e.Tenant.Name, e.Tenant.ResourceVersion})
		case <-time.After(s.opts.EventTimeout):
			t.Fatalf("timed out after %d of %d events: %v", len(out), n, out)
		}
	}
	return out
}

func (s suite) collectSpaces(t *testing.T, ch <-chan tenancy.SpaceEvent, n int) []ev {
	t.Helper()
	var out []ev
	for len(out) < n {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("watch closed after %d of %d events", len(out), n)
			}
			if e.Type == tenancy.EventError {
				t.Fatalf("watch error: %v", e.Err)
			}
			out = append(out, ev{e.Type, tenancy.KindSpace, e.Space.Name, e.Space.ResourceVersion})
		case <-time.After(s.opts.EventTimeout):
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
