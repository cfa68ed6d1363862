package quota

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
)

// Admission benchmarks on a populated ledger close to its limits: a tree of
// benchDepth levels below the root with benchFanout children each (1,365
// nodes, 1,024 leaves), benchPerLeaf committed objects on every leaf (5,120
// entries in all), and at every node a hard limit of what its subtree uses
// plus benchHeadroom admissions (benchRootHeadroom at the root), so every check walks a full chain of
// limited nodes and the limits are within a few requests of being hit.
// BenchmarkAdmit (usage_test.go) is the other case: a large tree with no
// objects and limits far away.
//
//	go test -run '^$' -bench 'Ledger' -benchmem ./quota/
const (
	benchDepth    = 5
	benchFanout   = 4
	benchPerLeaf  = 5
	benchHeadroom = 256
	// benchRootHeadroom is smaller, so that "denied" passes every node but
	// the root: the full chain is walked before the refusal.
	benchRootHeadroom = 64
)

var benchRequest = corev1.ResourceList{
	corev1.ResourceRequestsCPU:    resource.MustParse("100m"),
	corev1.ResourceRequestsMemory: resource.MustParse("128Mi"),
	corev1.ResourcePods:           resource.MustParse("1"),
}

// fullTree returns the nodes, the leaves and the committed objects.
func fullTree() (nodes []Node, leaves []string, objects []Object) {
	perNode := map[string]int64{} // objects in the subtree
	var grow func(name string, depth int, chain []string)
	grow = func(name string, depth int, chain []string) {
		chain = append(chain, name)
		if depth == benchDepth {
			leaves = append(leaves, name)
			for i := range benchPerLeaf {
				objects = append(objects, Object{UID: types.UID(name + "/" + strconv.Itoa(i)), Node: name, Resources: benchRequest})
			}
			for _, c := range chain {
				perNode[c] += benchPerLeaf
			}
			return
		}
		for i := range benchFanout {
			child := name + "-" + strconv.Itoa(i)
			nodes = append(nodes, Node{Name: child, Parent: name})
			grow(child, depth+1, chain)
		}
	}
	nodes = append(nodes, Node{Name: "root"})
	grow("root", 0, nil)
	for i := range nodes {
		k := perNode[nodes[i].Name] + benchHeadroom
		if nodes[i].Parent == "" {
			k = perNode[nodes[i].Name] + benchRootHeadroom
		}
		nodes[i].Hard = corev1.ResourceList{
			corev1.ResourceRequestsCPU:    *resource.NewMilliQuantity(100*k, resource.DecimalSI),
			corev1.ResourceRequestsMemory: *resource.NewQuantity(128<<20*k, resource.BinarySI),
			corev1.ResourcePods:           *resource.NewQuantity(k, resource.DecimalSI),
		}
	}
	return nodes, leaves, objects
}

func fullLedger(b *testing.B) (*Ledger, []string) {
	b.Helper()
	nodes, leaves, objects := fullTree()
	l := NewLedger(LedgerOptions{})
	if err := l.SetNodes(nodes); err != nil {
		b.Fatal(err)
	}
	if err := l.Reconcile(objects); err != nil {
		b.Fatal(err)
	}
	return l, leaves
}

// uids returns n distinct UIDs with prefix, made before the timer runs.
func uids(prefix string, n int) []types.UID {
	out := make([]types.UID, n)
	for i := range out {
		out[i] = types.UID(prefix + strconv.Itoa(i))
	}
	return out
}

// BenchmarkLedgerAdmit admits one object on a leaf (a check and a charge
// along 6 limited nodes) and releases it again, so the ledger stays at its
// populated state; "denied" asks for more than the root has left, which
// every other node of the chain would allow.
func BenchmarkLedgerAdmit(b *testing.B) {
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		l, leaves := fullLedger(b)
		ids := uids("bench-", 1024)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			uid := ids[i%len(ids)]
			if err := l.Admit(ctx, uid, leaves[i%len(leaves)], benchRequest); err != nil {
				b.Fatal(err)
			}
			l.Release(uid)
		}
	})
	b.Run("denied", func(b *testing.B) {
		l, leaves := fullLedger(b)
		big := corev1.ResourceList{corev1.ResourcePods: *resource.NewQuantity(benchRootHeadroom+1, resource.DecimalSI)}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			if err := l.Admit(ctx, "denied", leaves[i%len(leaves)], big); err == nil {
				b.Fatal("admitted over the limit")
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		l, leaves := fullLedger(b)
		var worker atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			w := worker.Add(1)
			// Each goroutine holds at most one reservation at a time, well
			// inside benchHeadroom.
			ids := uids(fmt.Sprintf("bench-%d-", w), 1024)
			for i := 0; pb.Next(); i++ {
				uid := ids[i%len(ids)]
				if err := l.Admit(ctx, uid, leaves[(i+int(w)*7)%len(leaves)], benchRequest); err != nil {
					b.Error(err)
					return
				}
				l.Release(uid)
			}
		})
	})
}

// BenchmarkLedgerCheck is the dry-run path: a check along the chain, no
// charge.
func BenchmarkLedgerCheck(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		l, leaves := fullLedger(b)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			if err := l.Check(leaves[i%len(leaves)], benchRequest); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		l, leaves := fullLedger(b)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if err := l.Check(leaves[i%len(leaves)], benchRequest); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkSharedLedgerAdmit is Admit then Release through a SharedLedger
// on an in-memory Store holding the same 5,120 entries: each of the two
// calls saves the whole entry list (what kubestore writes to the API
// server), so the cost grows with the number of entries, not the depth.
func BenchmarkSharedLedgerAdmit(b *testing.B) {
	ctx := context.Background()
	nodes, leaves, _ := fullTree()
	seed, _ := fullLedger(b)
	run := func(b *testing.B, parallel bool) {
		store := &memStore{}
		if _, err := store.Save(ctx, seed.Entries(), ""); err != nil {
			b.Fatal(err)
		}
		s := NewSharedLedger(store, SharedLedgerOptions{})
		if err := s.SetNodes(nodes); err != nil {
			b.Fatal(err)
		}
		var worker atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		if !parallel {
			ids := uids("bench-", 1024)
			for i := 0; b.Loop(); i++ {
				uid := ids[i%len(ids)]
				if err := s.Admit(ctx, uid, leaves[i%len(leaves)], benchRequest); err != nil {
					b.Fatal(err)
				}
				s.Release(uid)
			}
			return
		}
		b.RunParallel(func(pb *testing.PB) {
			w := worker.Add(1)
			ids := uids(fmt.Sprintf("bench-%d-", w), 1024)
			for i := 0; pb.Next(); i++ {
				uid := ids[i%len(ids)]
				if err := s.Admit(ctx, uid, leaves[(i+int(w)*7)%len(leaves)], benchRequest); err != nil {
					b.Error(err)
					return
				}
				s.Release(uid)
			}
		})
	}
	b.Run("serial", func(b *testing.B) { run(b, false) })
	b.Run("parallel", func(b *testing.B) { run(b, true) })
}
