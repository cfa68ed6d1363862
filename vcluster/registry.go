package vcluster

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Registry maps provisioner names to provisioners. It is a value the
// embedder builds and passes around; there is no global registry. The zero
// value is not usable; call NewRegistry. Safe for concurrent use.
// +kubebuilder:object:generate=false
type Registry struct {
	mu sync.RWMutex
	m  map[string]Provisioner
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{m: map[string]Provisioner{}} }

// Register adds p under name. The name must be a DNS subdomain (it is what
// VirtualCluster.Spec.Provisioner holds); registering a name twice returns
// an error wrapping ErrDuplicateProvisioner. A nil p is a programmer error
// and returns an error.
func (r *Registry) Register(name string, p Provisioner) error {
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return fmt.Errorf("provisioner name %q: %s", name, strings.Join(msgs, "; "))
	}
	if p == nil {
		return fmt.Errorf("provisioner %q is nil", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.m[name]; ok {
		return fmt.Errorf("%w: %q", ErrDuplicateProvisioner, name)
	}
	r.m[name] = p
	return nil
}

// Get returns the provisioner registered under name. An unknown name
// returns an error wrapping ErrUnknownProvisioner that lists the registered
// names.
func (r *Registry) Get(name string) (Provisioner, error) {
	r.mu.RLock()
	p, ok := r.m[name]
	r.mu.RUnlock()
	if !ok {
		names := r.Names()
		reg := "none"
		if len(names) > 0 {
			reg = strings.Join(names, ", ")
		}
		return nil, fmt.Errorf("%w %q (registered: %s)", ErrUnknownProvisioner, name, reg)
	}
	return p, nil
}

// For returns the provisioner a VirtualCluster asks for (Spec.Provisioner,
// "local" when empty).
func (r *Registry) For(vc *VirtualCluster) (Provisioner, error) {
	return r.Get(vc.EffectiveProvisioner())
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.m))
	for n := range r.m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
