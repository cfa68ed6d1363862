package netpol

import (
	"fmt"
	"io"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// ProbePod is the name of the synthetic pod Connectivity places in every namespace.
const ProbePod = "probe"

// ConnectivityInput describes the namespaces whose mutual reachability is asked for.
type ConnectivityInput struct {
	// Targets are the spaces and virtual-cluster namespaces; they name the rows and, when
	// Policies is nil, are what policies are generated for.
	Targets []Target
	// Namespaces are all namespaces to include, with the labels the engine gives them
	// (tenancy.LabelTenant, tree labels). Every target's namespace must be here.
	Namespaces []corev1.Namespace
	// Policies, when non-nil, are evaluated instead of generating them from Targets
	// (pass the cluster's actual policies to check what is really in force).
	Policies []networkingv1.NetworkPolicy
	// Options are passed to Generate.
	Options Options
	// Port and Protocol probed; defaults 80 and TCP.
	Port     int32
	Protocol corev1.Protocol
	// PodCIDR numbers the probe pods; default 10.244.0.0/16.
	PodCIDR string
}

// Connectivity evaluates reachability between one probe pod in each namespace. Generated
// policies select every pod of a namespace alike, so the probe stands for all of them.
func Connectivity(in ConnectivityInput) (*Matrix, error) {
	policies := in.Policies
	if policies == nil {
		for i, t := range in.Targets {
			ps, err := Generate(t, in.Options)
			if err != nil {
				return nil, fmt.Errorf("targets[%d] (%s): %w", i, t.Namespace, err)
			}
			policies = append(policies, ps...)
		}
	}
	cidr := in.PodCIDR
	if cidr == "" {
		cidr = "10.244.0.0/16"
	}
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil || !prefix.Addr().Is4() || prefix.Bits() > 24 {
		return nil, fmt.Errorf("%w: podCIDR %q: want an IPv4 range of at least /24", ErrInvalidInput, cidr)
	}
	port, proto := in.Port, in.Protocol
	if port == 0 {
		port = 80
	}
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	known := map[string]bool{}
	var pods []corev1.Pod
	var eps []Endpoint
	addr := prefix.Masked().Addr()
	for _, ns := range in.Namespaces {
		known[ns.Name] = true
		addr = addr.Next()
		pods = append(pods, corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: ProbePod},
			Status:     corev1.PodStatus{PodIP: addr.String()},
		})
		eps = append(eps, PodEndpoint(ns.Name, ProbePod))
	}
	for i, t := range in.Targets {
		if !known[t.Namespace] {
			return nil, fmt.Errorf("%w: targets[%d].namespace %q is not among the namespaces", ErrInvalidInput, i, t.Namespace)
		}
	}
	ev, err := NewEvaluator(policies, in.Namespaces, pods)
	if err != nil {
		return nil, err
	}
	m, err := ev.Matrix(eps, port, proto)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, t := range in.Targets {
		names[t.Namespace] = t.Describe()
	}
	m.Names = make([]string, len(eps))
	for i, e := range eps {
		if n, ok := names[e.Namespace]; ok {
			m.Names[i] = n
		} else {
			m.Names[i] = e.Namespace
		}
	}
	return m, nil
}

// Describe names a target for reports: "space/<ns>" or "vcluster/<ns>/<name>", with the
// tenant and mode.
func (t Target) Describe() string {
	mode := t.Mode
	if mode == "" {
		mode = tenancy.IsolationNone
	}
	if t.VirtualCluster != "" {
		return fmt.Sprintf("vcluster/%s/%s[%s,%s]", t.Namespace, t.VirtualCluster, t.Tenant, mode)
	}
	return fmt.Sprintf("space/%s[%s,%s]", t.Namespace, t.Tenant, mode)
}

// Report writes the reachability matrix of Connectivity to w: rows are sources, columns
// destinations, "." reachable and "X" not.
func Report(w io.Writer, in ConnectivityInput) error {
	m, err := Connectivity(in)
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, m.String())
	return err
}
