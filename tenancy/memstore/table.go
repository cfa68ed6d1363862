package memstore

import (
	"context"
	"maps"
	"sort"
	"strconv"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/uuid"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// object is what the shared code needs of *tenancy.Tenant and
// *tenancy.Space: their metadata, and a typed deep copy.
type object[T any] interface {
	*T
	metav1.Object
	runtime.Object
	DeepCopy() *T
	DeepCopyInto(*T)
}

// kind is what tenants and spaces do differently. The table methods do
// everything else the same way for both.
type kind[T any, P object[T]] struct {
	name string // tenancy.KindTenant or tenancy.KindSpace
	// owner is the tenant the object hangs under in the tree (a tenant's
	// parent, a space's tenant), "" for none; the table indexes by it.
	owner          func(P) string
	validateCreate func(tenancy.Validator, tenancy.View, P) error
	validateUpdate func(tenancy.Validator, tenancy.View, P, P) error
	// setSpec sets dst's spec to a deep copy of src's and reports whether
	// that changed it (see replace).
	setSpec func(dst, src P) bool
	// setStatus sets dst's status to a deep copy of src's.
	setStatus func(dst, src P)
}

// table holds the objects of one kind, indexed by owner. get, list,
// create and update take the store's lock; the other methods expect the
// caller to hold it.
type table[T any, P object[T]] struct {
	kind[T, P]
	s       *Store
	objs    map[string]P
	byOwner map[string]map[string]struct{}
	// empty is a zero object: its status is the one a new object gets.
	empty P
}

// replace sets *dst to src and reports whether that changed it, in the
// sense of equality.Semantic (so a quantity written differently is equal).
func replace[S any](dst *S, src S) bool {
	changed := !equality.Semantic.DeepEqual(*dst, src)
	*dst = src
	return changed
}

func newTable[T any, P object[T]](s *Store, k kind[T, P]) table[T, P] {
	return table[T, P]{kind: k, s: s, objs: map[string]P{}, byOwner: map[string]map[string]struct{}{}, empty: new(T)}
}

func (tb *table[T, P]) get(name string) (P, error) {
	tb.s.mu.RLock()
	defer tb.s.mu.RUnlock()
	o, ok := tb.objs[name]
	if !ok {
		return nil, tenancy.NotFoundError(tb.name, name)
	}
	return o.DeepCopy(), nil
}

// list returns copies of every object, sorted by name, and the version
// they are at.
func (tb *table[T, P]) list() ([]T, string) {
	tb.s.mu.RLock()
	defer tb.s.mu.RUnlock()
	items := make([]T, len(tb.objs))
	i := 0
	for _, o := range tb.objs {
		o.DeepCopyInto(&items[i])
		i++
	}
	sort.Slice(items, func(i, j int) bool { return P(&items[i]).GetName() < P(&items[j]).GetName() })
	return items, strconv.FormatUint(tb.s.rv, 10)
}

// ownedLocked returns the objects under owner, sorted by name, not copied:
// for the validator's view.
func (tb *table[T, P]) ownedLocked(owner string) []P {
	out := make([]P, 0, len(tb.byOwner[owner]))
	for name := range tb.byOwner[owner] {
		out = append(out, tb.objs[name])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out
}

func (tb *table[T, P]) create(ctx context.Context, obj P) (P, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	in := P(obj.DeepCopy())
	s := tb.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := tb.objs[in.GetName()]; ok {
		return nil, tenancy.AlreadyExistsError(tb.name, in.GetName())
	}
	if err := tb.validateCreate(s.opts.Validator, view{s}, in); err != nil {
		return nil, err
	}
	in.GetObjectKind().SetGroupVersionKind(tenancy.GroupVersion.WithKind(tb.name))
	in.SetUID(uuid.NewUUID())
	in.SetCreationTimestamp(now())
	in.SetGeneration(1)
	tb.setStatus(in, tb.empty)
	in.SetResourceVersion(s.next())
	tb.objs[in.GetName()] = in
	tb.index(in)
	s.record(change{rv: s.rv, typ: tenancy.EventAdded, obj: in})
	s.notify.Broadcast()
	return in.DeepCopy(), nil
}

// update replaces the labels, annotations and spec of the object, or with
// status its status only. It copies only those parts of in.
func (tb *table[T, P]) update(ctx context.Context, in P, status bool) (P, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := tb.s
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := tb.objs[in.GetName()]
	if !ok {
		return nil, tenancy.NotFoundError(tb.name, in.GetName())
	}
	if err := checkVersion(tb.name, in.GetName(), in.GetResourceVersion(), cur.GetResourceVersion()); err != nil {
		return nil, err
	}
	next := P(cur.DeepCopy())
	if status {
		tb.setStatus(next, in)
	} else {
		next.SetLabels(maps.Clone(in.GetLabels()))
		next.SetAnnotations(maps.Clone(in.GetAnnotations()))
		changed := tb.setSpec(next, in)
		if err := tb.validateUpdate(s.opts.Validator, view{s}, cur, next); err != nil {
			return nil, err
		}
		if changed {
			next.SetGeneration(next.GetGeneration() + 1)
		}
	}
	next.SetResourceVersion(s.next())
	tb.objs[next.GetName()] = next
	if tb.owner(cur) != tb.owner(next) {
		tb.unindex(cur)
		tb.index(next)
	}
	s.record(change{rv: s.rv, typ: tenancy.EventModified, obj: next})
	s.notify.Broadcast()
	return next.DeepCopy(), nil
}

// deleteLocked removes an object that exists and records its deletion;
// the caller broadcasts.
func (tb *table[T, P]) deleteLocked(name string) {
	cur := tb.objs[name]
	delete(tb.objs, name)
	tb.unindex(cur)
	gone := P(cur.DeepCopy())
	gone.SetResourceVersion(tb.s.next())
	tb.s.record(change{rv: tb.s.rv, typ: tenancy.EventDeleted, obj: gone})
}

func (tb *table[T, P]) index(o P) {
	owner := tb.owner(o)
	if owner == "" {
		return
	}
	m := tb.byOwner[owner]
	if m == nil {
		m = map[string]struct{}{}
		tb.byOwner[owner] = m
	}
	m[o.GetName()] = struct{}{}
}

func (tb *table[T, P]) unindex(o P) {
	owner := tb.owner(o)
	delete(tb.byOwner[owner], o.GetName())
	if len(tb.byOwner[owner]) == 0 {
		delete(tb.byOwner, owner)
	}
}
