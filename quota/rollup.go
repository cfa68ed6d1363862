package quota

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Usage is the roll-up of one node.
type Usage struct {
	// Hard is the node's own limit as given.
	Hard corev1.ResourceList
	// Own is what objects charged directly to the node use (committed).
	Own corev1.ResourceList
	// Subtree is what the node and all its descendants use (committed); this is what
	// the node's Hard limits, and what a tenant's status reports.
	Subtree corev1.ResourceList
	// Reserved is admitted but not yet committed, whole subtree.
	Reserved corev1.ResourceList
}

// Usage returns the roll-up of a node.
func (l *Ledger) Usage(nodeName string) (Usage, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, ok := l.nodes[nodeName]
	if !ok {
		return Usage{}, fmt.Errorf("%w: %q", ErrUnknownNode, nodeName)
	}
	return Usage{Hard: n.hardInput.DeepCopy(), Own: l.list(n.ownUsed), Subtree: l.list(n.subUsed), Reserved: l.list(n.subRes)}, nil
}

func (l *Ledger) list(v []int64) corev1.ResourceList {
	out := corev1.ResourceList{}
	for c, x := range v {
		if x != 0 {
			out[l.names[c]] = fromAmount(l.names[c], x)
		}
	}
	return out
}

// NodeNames lists the nodes, sorted.
func (l *Ledger) NodeNames() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.nodes))
	for n := range l.nodes {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// EffectiveLimits returns, per resource, the smallest hard limit on the node's chain:
// the most a namespace charged to this node could ever use. It is what the per-namespace
// ResourceQuota is rendered from.
func (l *Ledger) EffectiveLimits(nodeName string) (corev1.ResourceList, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, ok := l.nodes[nodeName]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownNode, nodeName)
	}
	out := corev1.ResourceList{}
	for c := range l.names {
		best := int64(-1)
		for _, a := range n.chain {
			if h := a.hard[c]; h >= 0 && (best < 0 || h < best) {
				best = h
			}
		}
		if best >= 0 {
			out[l.names[c]] = fromAmount(l.names[c], best)
		}
	}
	return out, nil
}

// Holds reports whether uid is charged and whether the charge is committed.
func (l *Ledger) Holds(uid types.UID) (charged, committed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[uid]
	return ok, ok && e.committed
}

// Stats are counters since the ledger was created.
type Stats struct{ Admitted, Denied int64 }

// Stats returns the admission counters.
func (l *Ledger) Stats() Stats { return Stats{Admitted: l.admitted.Load(), Denied: l.denied.Load()} }
