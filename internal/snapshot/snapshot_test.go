package snapshot

import (
	"context"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// listedTree is a Source over fixed lists that copies them on every
// call, as the manager's cache does.
type listedTree struct {
	tenants []tenancy.Tenant
	spaces  []tenancy.Space
}

func (l listedTree) ListTenants(context.Context) (*tenancy.TenantList, error) {
	out := &tenancy.TenantList{Items: make([]tenancy.Tenant, len(l.tenants))}
	for i := range l.tenants {
		l.tenants[i].DeepCopyInto(&out.Items[i])
	}
	return out, nil
}

func (l listedTree) ListSpaces(context.Context) (*tenancy.SpaceList, error) {
	out := &tenancy.SpaceList{Items: make([]tenancy.Space, len(l.spaces))}
	for i := range l.spaces {
		l.spaces[i].DeepCopyInto(&out.Items[i])
	}
	return out, nil
}

// wideTree is n tenants, ten children under each of n/10 parents, and a
// space each.
func wideTree(n int) listedTree {
	var l listedTree
	for i := range n {
		t := tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("t%d", i)}}
		if i > 0 {
			t.Spec.Parent = fmt.Sprintf("t%d", (i-1)/10)
		}
		l.tenants = append(l.tenants, t)
		l.spaces = append(l.spaces, tenancy.Space{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("s%d", i)}, Spec: tenancy.SpaceSpec{Tenant: t.Name}})
	}
	return l
}

// A snapshot between changes is the cached one; a change builds anew.
func TestSnapshotCacheReusesUntilAChange(t *testing.T) {
	r := &Reader{Source: wideTree(50)}
	r.armed.Store(true)
	ctx := context.Background()
	a, err := r.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := r.Get(ctx)
	if a != b {
		t.Fatal("two snapshots without a change between them were built twice")
	}
	r.Changed()
	c, _ := r.Get(ctx)
	if c == a || c.Tree.Len() != 50 {
		t.Fatalf("after a change: same snapshot %v, %d tenants", c == a, c.Tree.Len())
	}
	// Status-only updates do not count as changes; spec, label and
	// finalizer changes do.
	old := &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "x", Generation: 1}}
	status := old.DeepCopy()
	status.Status.Spaces = 3
	spec := old.DeepCopy()
	spec.Generation = 2
	fin := old.DeepCopy()
	fin.Finalizers = []string{"f"}
	if TreeChanged(old, status) || !TreeChanged(old, spec) || !TreeChanged(old, fin) {
		t.Fatal("TreeChanged: status-only must not count; spec and finalizers must")
	}
}

// The cost of one reconcile step's tree: built from a cache list, or the
// cached one (go test -run '^$' -bench Snapshot .).
func BenchmarkSnapshot(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		src := wideTree(n)
		b.Run(fmt.Sprintf("build/tenants=%d", n), func(b *testing.B) {
			r := &Reader{Source: src}
			for b.Loop() {
				if _, err := r.Get(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("cached/tenants=%d", n), func(b *testing.B) {
			r := &Reader{Source: src}
			r.armed.Store(true)
			for b.Loop() {
				if _, err := r.Get(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
