package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/memstore"
	"github.com/vclusterkit/vclusterkit/tenancy/storetest"
)

func TestConformance(t *testing.T) {
	storetest.RunWithOptions(t, func(t *testing.T) tenancy.Store {
		return memstore.New(memstore.Options{})
	}, storetest.Options{LargeTree: 2000})
}

func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, func(b *testing.B) tenancy.Store { return memstore.New(memstore.Options{}) })
}

func TestWatchExpired(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := memstore.New(memstore.Options{History: 10})
	x, err := s.CreateTenant(ctx, &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	first := x.ResourceVersion
	for i := range 40 {
		x.Spec.DisplayName = fmt.Sprint(i)
		if x, err = s.UpdateTenant(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.WatchTenants(ctx, first); !errors.Is(err, tenancy.ErrExpired) {
		t.Errorf("watch from a trimmed version: want ErrExpired, got %v", err)
	}
	if _, err := s.WatchTenants(ctx, "999999"); !errors.Is(err, tenancy.ErrExpired) {
		t.Errorf("watch from a future version: want ErrExpired, got %v", err)
	}
	// The most recent changes are still there.
	w, err := s.WatchTenants(ctx, "39")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"40", "41"} {
		if e := <-w; e.Tenant.ResourceVersion != want {
			t.Errorf("got version %s, want %s", e.Tenant.ResourceVersion, want)
		}
	}
}
