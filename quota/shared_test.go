package quota

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

// memStore is a Store with versions and conflicts, standing in for the API server in
// unit tests (kubestore tests the real one).
type memStore struct {
	mu      sync.Mutex
	entries []Entry
	version int
	saves   atomic.Int64
	fails   atomic.Int64
}

func (m *memStore) Load(context.Context) ([]Entry, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.version == 0 {
		return nil, "", nil
	}
	return append([]Entry(nil), m.entries...), strconv.Itoa(m.version), nil
}

func (m *memStore) Save(_ context.Context, entries []Entry, version string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := ""
	if m.version > 0 {
		cur = strconv.Itoa(m.version)
	}
	if version != cur {
		m.fails.Add(1)
		return "", fmt.Errorf("stale version %q: %w", version, ErrConflict)
	}
	m.saves.Add(1)
	m.entries = append([]Entry(nil), entries...)
	m.version++
	return strconv.Itoa(m.version), nil
}

func TestSharedLedgerAcrossReplicas(t *testing.T) {
	store := &memStore{}
	nodes := []Node{{Name: "org", Hard: rl("count/pods", "50")}, {Name: "a", Parent: "org"}, {Name: "b", Parent: "org"}}
	var replicas []*SharedLedger
	for range 3 {
		r := NewSharedLedger(store, SharedLedgerOptions{})
		if err := r.SetNodes(nodes); err != nil {
			t.Fatal(err)
		}
		replicas = append(replicas, r)
	}
	var ok atomic.Int64
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			err := replicas[i%3].Admit(context.Background(), types.UID(fmt.Sprint(i)), []string{"a", "b"}[i%2], rl("count/pods", "1"))
			switch {
			case err == nil:
				ok.Add(1)
			case !errors.Is(err, ErrQuotaExceeded):
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 50 {
		t.Fatalf("admitted %d across replicas, want exactly 50", ok.Load())
	}
	if store.fails.Load() == 0 {
		t.Error("no conflict happened: the test did not exercise concurrency between replicas")
	}
	// Replica 1 frees what replica 0 admitted, once; replica 2 then admits again.
	var admittedUID types.UID
	for _, e := range store.entries {
		admittedUID = e.UID
		break
	}
	if !replicas[1].Release(admittedUID) || replicas[0].Release(admittedUID) {
		t.Fatal("a release across replicas did not free exactly once")
	}
	if err := replicas[2].Admit(context.Background(), "new", "a", rl("count/pods", "1")); err != nil {
		t.Fatalf("after release: %v", err)
	}
	if err := replicas[0].Admit(context.Background(), "newer", "b", rl("count/pods", "1")); !errors.Is(err, ErrQuotaExceeded) {
		t.Fatalf("replica with a stale cache overshot: %v", err)
	}
	u, err := replicas[1].Usage(context.Background(), "org")
	if err != nil {
		t.Fatal(err)
	}
	cmpRL(t, "reserved", rl("count/pods", "50"), u.Reserved)
	// Entries of a node one replica does not know survive its writes.
	before, _ := replicas[1].Usage(context.Background(), "b")
	other := NewSharedLedger(store, SharedLedgerOptions{})
	if err := other.SetNodes([]Node{{Name: "org", Hard: rl("count/pods", "50")}, {Name: "a", Parent: "org"}}); err != nil {
		t.Fatal(err)
	}
	if !other.Release("new") {
		t.Fatal("release via a replica with a smaller tree")
	}
	u, _ = replicas[1].Usage(context.Background(), "b")
	if got, want := u.Reserved.Name("count/pods", "").Value(), before.Reserved.Name("count/pods", "").Value(); got != want || want == 0 {
		t.Errorf("node b holds %d, held %d before a replica that does not know b wrote", got, want)
	}
}
