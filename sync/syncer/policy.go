package syncer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	psapi "k8s.io/pod-security-admission/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Policy is what a tenant's effective policy asks of the syncers of its
// virtual clusters. It is plain data, independent of package tenancy: the
// embedder (the root Engine) maps its tenants' policy onto it.
type Policy struct {
	// PodSecurity is the Pod Security Standard checked before a pod
	// reaches the host. Empty means baseline.
	PodSecurity psapi.Level
	// NodeSelector is enforced on every host pod.
	NodeSelector map[string]string
	// AllowedRuntimeClasses limits pods' spec.runtimeClassName; empty
	// allows all.
	AllowedRuntimeClasses []string
	// AllowedPriorityClasses limits pods' spec.priorityClassName; empty
	// allows all but the system classes.
	AllowedPriorityClasses []string
	// AllowedStorageClasses limits claims' spec.storageClassName; empty
	// allows all.
	AllowedStorageClasses []string
	// AllowedIngressClasses limits ingresses' spec.ingressClassName; empty
	// allows all.
	AllowedIngressClasses []string
}

// Validate reports the first field of p that is not valid, by name.
func (p Policy) Validate() error {
	if p.PodSecurity != "" {
		if _, err := psapi.ParseLevel(string(p.PodSecurity)); err != nil {
			return fmt.Errorf("Policy.PodSecurity: %w", err)
		}
	}
	path := field.NewPath("Policy", "NodeSelector")
	keys := slices.Sorted(maps.Keys(p.NodeSelector))
	for _, k := range keys {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return fmt.Errorf("%s: key %q: %v", path, k, errs)
		}
		if errs := validation.IsValidLabelValue(p.NodeSelector[k]); len(errs) > 0 {
			return fmt.Errorf("%s[%s]: value %q: %v", path, k, p.NodeSelector[k], errs)
		}
	}
	return nil
}

// PolicyUpdater is implemented by syncers that enforce a Policy and follow
// a change of it while they run (the built-in pods, persistentvolumeclaims
// and ingresses syncers). Engine.SetPolicy calls it.
type PolicyUpdater interface {
	// UpdatePolicy makes the syncer enforce p (already validated) from its
	// next reconcile on, and reports whether anything the syncer enforces
	// changed. It is called concurrently with reconciles and must be safe
	// for that.
	UpdatePolicy(p Policy) (changed bool)
}

// SetPolicy hands a tenant's changed policy to the running syncers: every
// Syncer implementing PolicyUpdater enforces it from then on, and the
// virtual objects of each kind whose rules changed are synced again, so
// objects refused before are checked anew and synced ones are checked
// against the new rules (what a syncer then does with an object that the
// new policy no longer allows is its own documented rule). It may be
// called before or after Start, any number of times and concurrently with
// everything else; an invalid policy is refused whole, naming the field,
// and changes nothing.
func (e *Engine) SetPolicy(ctx context.Context, p Policy) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("syncer: SetPolicy: %w", err)
	}
	var errs []error
	for _, k := range e.kinds {
		pu, ok := k.syncer.(PolicyUpdater)
		if !ok || !pu.UpdatePolicy(p) {
			continue
		}
		if err := k.requeueAll(ctx); err != nil {
			errs = append(errs, fmt.Errorf("syncer: SetPolicy: %s: %w", k.syncer.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// requeueAll enqueues every virtual object of the kind. Before the kind's
// controller has started there is nothing to do: its initial list
// enqueues everything anyway.
func (k *kind) requeueAll(ctx context.Context) error {
	qp := k.queue.Load()
	if qp == nil {
		return nil
	}
	if _, ok := k.syncer.(FromHost); ok {
		return nil
	}
	obj, err := k.e.opts.Scheme.New(k.gvk.GroupVersion().WithKind(k.gvk.Kind + "List"))
	if err != nil {
		return err
	}
	list, ok := obj.(client.ObjectList)
	if !ok {
		return fmt.Errorf("%sList is not a list", k.gvk.Kind)
	}
	if err := k.e.sc.Virtual.List(ctx, list); err != nil {
		return err
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return err
	}
	keys := make([]types.NamespacedName, 0, len(items))
	for _, it := range items {
		if o, ok := it.(client.Object); ok {
			keys = append(keys, client.ObjectKeyFromObject(o))
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	q := *qp
	for _, key := range keys {
		k.dirty.mark(key)
		q.Add(reconcile.Request{NamespacedName: key})
	}
	return nil
}

// AllowedNames is a list of allowed names (classes, say) that a syncer
// reads on every reconcile while UpdatePolicy may replace it. It is safe
// for concurrent use; the zero value is empty, which by the policies'
// convention allows all.
type AllowedNames struct{ p atomic.Pointer[[]string] }

// Set replaces the list with a copy of names and reports whether it
// changed (an empty and a nil list are the same).
func (a *AllowedNames) Set(names []string) bool {
	if slices.Equal(a.Get(), names) {
		return false
	}
	c := slices.Clone(names)
	a.p.Store(&c)
	return true
}

// Get returns the current list; nil or empty allows all. Callers must not
// modify it.
func (a *AllowedNames) Get() []string {
	if p := a.p.Load(); p != nil {
		return *p
	}
	return nil
}
