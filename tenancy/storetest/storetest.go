package storetest

import (
	"context"
	"errors"
	"strings"
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
		{"ConcurrentCreates", s.concurrentCreates},
		{"ConcurrentDeleteAndCreateChild", s.concurrentDeleteAndCreateChild},
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
