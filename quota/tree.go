package quota

import (
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// isMilli reports whether a resource is counted in milli-units (cpu and its requests.
// and limits. forms); all others are counted in whole units, rounded up.
func isMilli(name corev1.ResourceName) bool {
	return name == corev1.ResourceCPU || name == corev1.ResourceRequestsCPU || name == corev1.ResourceLimitsCPU
}

func toAmount(name corev1.ResourceName, q resource.Quantity) (int64, bool) {
	if q.Sign() < 0 {
		return 0, false
	}
	scale := resource.Scale(0)
	if isMilli(name) {
		scale = resource.Milli
	}
	if q.Cmp(*resource.NewScaledQuantity(maxAmount, scale)) > 0 {
		return 0, false
	}
	return q.ScaledValue(scale), true
}

func fromAmount(name corev1.ResourceName, v int64) resource.Quantity {
	if isMilli(name) {
		if v%1000 == 0 {
			return *resource.NewQuantity(v/1000, resource.DecimalSI)
		}
		return *resource.NewMilliQuantity(v, resource.DecimalSI)
	}
	switch name {
	case corev1.ResourceMemory, corev1.ResourceRequestsMemory, corev1.ResourceLimitsMemory,
		corev1.ResourceStorage, corev1.ResourceRequestsStorage, corev1.ResourceEphemeralStorage,
		corev1.ResourceRequestsEphemeralStorage, corev1.ResourceLimitsEphemeralStorage:
		return *resource.NewQuantity(v, resource.BinarySI)
	}
	return *resource.NewQuantity(v, resource.DecimalSI)
}

// SetNodes replaces the tree. It validates everything first and changes nothing on error:
// names unique and non-empty, parents present, no cycles, no negative or oversized limit,
// and no child limit above the limit of its nearest ancestor that limits the same
// resource. Usage and reservations are kept; a node that still holds committed usage
// (objects that exist, as far as the ledger knows) cannot be removed.
//
// Reservations do not hold a node back: lapsed ones (ReservationTTL) are released
// first, and the outstanding reservations of a removed node are released with it. A
// reservation is a create admitted under the node that has not been seen to happen; once
// the node is going (its tenant or space deleted, after its namespaces), that create can
// no longer happen under it, and a deletion must not wait for it (an object that did land
// would be charged as it is observed, as any object the ledger was not asked about).
func (l *Ledger) SetNodes(nodes []Node) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := ValidateTree(nodes); err != nil {
		return err
	}
	byName := make(map[string]*Node, len(nodes))
	for i := range nodes {
		byName[nodes[i].Name] = &nodes[i]
	}
	l.expireLocked()
	held := map[string]bool{}
	var dropped []types.UID
	for uid, e := range l.entries {
		if byName[e.node.name] != nil {
			continue
		}
		if e.committed {
			held[e.node.name] = true
		} else {
			dropped = append(dropped, uid)
		}
	}
	var errs field.ErrorList
	for _, name := range slices.Sorted(maps.Keys(held)) {
		errs = append(errs, field.Forbidden(field.NewPath("nodes"), fmt.Sprintf("node %q still holds usage and cannot be removed", name)))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidTree, errs.ToAggregate())
	}
	for _, uid := range dropped {
		l.releaseLocked(uid)
	}
	for i := range nodes {
		for name := range nodes[i].Hard {
			l.col(name)
		}
	}
	cols := len(l.names)
	fresh := make(map[string]*node, len(nodes))
	for _, n := range nodes {
		nn := &node{name: n.Name, parent: n.Parent, hardInput: n.Hard.DeepCopy()}
		nn.grow(cols)
		for name, q := range n.Hard {
			v, _ := toAmount(name, q) // validated
			nn.hard[l.res[name]] = v
		}
		fresh[n.Name] = nn
	}
	for _, nn := range fresh {
		for cur := nn; cur != nil; cur = fresh[cur.parent] {
			nn.chain = append(nn.chain, cur)
			if cur.parent == "" {
				break
			}
		}
	}
	// Re-attach the existing charges to the new nodes.
	for _, e := range l.entries {
		e.node = fresh[e.node.name]
		for _, a := range e.amounts {
			e.node.charge(a, e.committed, 1)
		}
	}
	l.nodes = fresh
	return nil
}

// ValidateTree checks a tree without loading it; see SetNodes.
func ValidateTree(nodes []Node) error {
	var errs field.ErrorList
	byName := make(map[string]int, len(nodes))
	for i, n := range nodes {
		p := field.NewPath("nodes").Index(i)
		if n.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
			continue
		}
		if _, dup := byName[n.Name]; dup {
			errs = append(errs, field.Duplicate(p.Child("name"), n.Name))
			continue
		}
		byName[n.Name] = i
		for name, q := range n.Hard {
			if _, ok := toAmount(name, q); !ok {
				errs = append(errs, field.Invalid(p.Child("hard").Key(string(name)), q.String(), "must be between 0 and 2^53 units"))
			}
		}
	}
	for i, n := range nodes {
		p := field.NewPath("nodes").Index(i)
		if n.Parent == "" {
			continue
		}
		if _, ok := byName[n.Parent]; !ok {
			errs = append(errs, field.NotFound(p.Child("parent"), n.Parent))
			continue
		}
		// Compare each limit with the nearest ancestor that limits the same resource.
		for name, q := range n.Hard {
			seen := map[string]bool{n.Name: true}
			for cur := n.Parent; cur != "" && !seen[cur]; {
				j, ok := byName[cur]
				if !ok {
					break
				}
				seen[cur] = true
				if limit, ok := nodes[j].Hard[name]; ok {
					if q.Cmp(limit) > 0 {
						errs = append(errs, field.Invalid(p.Child("hard").Key(string(name)), q.String(),
							fmt.Sprintf("exceeds the limit %s of ancestor %q: a child's limit can only be lower", limit.String(), cur)))
					}
					break
				}
				cur = nodes[j].Parent
			}
		}
		seen := map[string]bool{n.Name: true}
		for cur := n.Parent; cur != ""; {
			if seen[cur] {
				errs = append(errs, field.Invalid(p.Child("parent"), n.Parent, "parent chain forms a cycle"))
				break
			}
			seen[cur] = true
			j, ok := byName[cur]
			if !ok {
				break
			}
			cur = nodes[j].Parent
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidTree, errs.ToAggregate())
	}
	return nil
}
