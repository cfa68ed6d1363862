package vcluster

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func nopProvisioner() Provisioner {
	return Funcs{
		ProvisionFunc:   func(context.Context, Request) (Result, error) { return Result{Ready: true}, nil },
		DeprovisionFunc: func(context.Context, *VirtualCluster) error { return nil },
		KubeconfigFunc:  func(context.Context, *VirtualCluster) ([]byte, error) { return []byte("k"), nil },
	}
}

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	if _, err := r.Get("local"); !errors.Is(err, ErrUnknownProvisioner) || !strings.Contains(err.Error(), "registered: none") {
		t.Fatalf("empty registry: %v", err)
	}
	for _, n := range []string{"local", "helm", "kamaji"} {
		if err := r.Register(n, nopProvisioner()); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Register("helm", nopProvisioner()); !errors.Is(err, ErrDuplicateProvisioner) {
		t.Errorf("duplicate: %v", err)
	}
	if err := r.Register("Bad Name", nopProvisioner()); err == nil {
		t.Error("bad name accepted")
	}
	if err := r.Register("nil", nil); err == nil {
		t.Error("nil provisioner accepted")
	}
	if diff := cmp.Diff([]string{"helm", "kamaji", "local"}, r.Names()); diff != "" {
		t.Errorf("Names (-want +got):\n%s", diff)
	}
	_, err := r.Get("cloud")
	if !errors.Is(err, ErrUnknownProvisioner) || !strings.Contains(err.Error(), `"cloud" (registered: helm, kamaji, local)`) {
		t.Errorf("unknown name error = %v", err)
	}
	vc := validVC()
	if _, err := r.For(vc); err != nil {
		t.Errorf("For with default provisioner: %v", err)
	}
}

func TestFuncsNil(t *testing.T) {
	var f Funcs
	if _, err := f.Provision(context.Background(), Request{}); err == nil {
		t.Error("nil ProvisionFunc did not fail")
	}
	if err := f.Deprovision(context.Background(), nil); err == nil {
		t.Error("nil DeprovisionFunc did not fail")
	}
	if _, err := f.Kubeconfig(context.Background(), nil); err == nil {
		t.Error("nil KubeconfigFunc did not fail")
	}
}
