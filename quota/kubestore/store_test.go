package kubestore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/quota"
	"github.com/vclusterkit/vclusterkit/quota/kubestore"
)

// Three replicas, each with its own client, admit 100 pods concurrently against one
// ConfigMap on the real API server: exactly the limit is admitted.
func TestReplicasShareOneLedger(t *testing.T) {
	t.Cleanup(func() { host.LogsOnFailure(t) })
	ctx := context.Background()
	ns := fmt.Sprintf("quota-store-%d", time.Now().UnixNano()%1_000_000)
	admin, err := client.New(host.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	nodes := []quota.Node{
		{Name: "org", Hard: corev1.ResourceList{"count/pods": resource.MustParse("50")}},
		{Name: "a", Parent: "org"}, {Name: "b", Parent: "org"},
	}
	var replicas []*quota.SharedLedger
	for range 3 {
		cfg := rest.CopyConfig(host.Config)
		cfg.QPS, cfg.Burst = 1000, 1000
		c, err := client.New(cfg, client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		r := quota.NewSharedLedger(&kubestore.ConfigMapStore{Client: c, Namespace: ns, Name: "ledger"}, quota.SharedLedgerOptions{})
		if err := r.SetNodes(nodes); err != nil {
			t.Fatal(err)
		}
		replicas = append(replicas, r)
	}
	pod := corev1.ResourceList{"count/pods": resource.MustParse("1")}
	var ok atomic.Int64
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			err := replicas[i%3].Admit(ctx, types.UID(fmt.Sprint("pod-", i)), []string{"a", "b"}[i%2], pod)
			switch {
			case err == nil:
				ok.Add(1)
			case !errors.Is(err, quota.ErrQuotaExceeded):
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 50 {
		t.Fatalf("admitted %d, want exactly 50", ok.Load())
	}
	store := &kubestore.ConfigMapStore{Client: admin, Namespace: ns, Name: "ledger"}
	entries, _, err := store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 50 {
		t.Fatalf("%d entries stored, want 50", len(entries))
	}
	// Freed once across replicas; the freed slot is admitted once.
	if !replicas[2].Release(entries[0].UID) || replicas[1].Release(entries[0].UID) {
		t.Fatal("release across replicas did not free exactly once")
	}
	if err := replicas[0].Admit(ctx, "again-1", "a", pod); err != nil {
		t.Fatal(err)
	}
	if err := replicas[1].Admit(ctx, "again-2", "b", pod); !errors.Is(err, quota.ErrQuotaExceeded) {
		t.Fatalf("overshoot after release: %v", err)
	}
	// A stale version is a conflict.
	if _, err := store.Save(ctx, nil, "1"); !errors.Is(err, quota.ErrConflict) {
		t.Fatalf("stale save: %v", err)
	}
}
