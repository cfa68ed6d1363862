package netpol

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// Labels and names of the policies this package generates.
const (
	// LabelManagedBy marks a NetworkPolicy as generated here; a reconciler owns exactly
	// the policies with LabelManagedBy=ManagedByValue and puts them back when edited.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of LabelManagedBy on generated policies.
	ManagedByValue = "vclusterkit"
	// NamePrefix starts the name of every generated policy.
	NamePrefix = "vclusterkit-"

	// LabelIngressPolicies and LabelEgressPolicies are "true" (else "false" or absent)
	// on a host pod that NetworkPolicies written inside its virtual cluster
	// select for ingress or egress. In a virtual cluster's host namespace the isolation's
	// allowance of the tenant's scope (Mode) leaves such a pod out for that direction, so
	// the tenant's own policies decide what reaches it inside the scope, as they would in
	// a cluster of its own: a deny-all written inside the virtual cluster denies. Only
	// the engine sets them (the pods syncer; tenant keys under vclusterkit.io are escaped
	// on the host).
	LabelIngressPolicies = "netpol.vclusterkit.io/ingress-policies"
	LabelEgressPolicies  = "netpol.vclusterkit.io/egress-policies"
)

// ErrInvalidTarget wraps validation failures of Generate's input.
var ErrInvalidTarget = errors.New("invalid isolation target")

// PrivateCIDRs are the ranges excluded from internet egress by default: RFC 1918,
// carrier-grade NAT, loopback, link-local (cloud metadata endpoints), and their IPv6
// counterparts (unique local, link-local, loopback).
var privateCIDRs = []string{
	"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
	"fc00::/7", "fe80::/10", "::1/128",
}

// PrivateCIDRs returns the default exclusions of internet egress (a fresh copy).
func PrivateCIDRs() []string { return append([]string(nil), privateCIDRs...) }

// Target is one host namespace to isolate: a space or the host namespace of a virtual
// cluster.
type Target struct {
	// Namespace is the host namespace.
	Namespace string
	// Tenant owns the namespace (the value of tenancy.LabelTenant on it).
	Tenant string
	// Mode is the tenant's effective isolation mode; empty means none.
	Mode tenancy.IsolationMode
	// Boundary is, in tenant mode, the tenant whose whole subtree the namespace may reach
	// (the tenant whose policy set the mode, see EffectiveIsolation). Defaults to Tenant.
	Boundary string
	// VirtualCluster names the virtual cluster when the namespace is its host namespace.
	VirtualCluster string
}

// Peer is an extra allowed peer selected by labels: pods matching PodLabels in namespaces
// matching NamespaceLabels (an empty map matches everything; both nil is rejected).
type Peer struct {
	NamespaceLabels map[string]string
	PodLabels       map[string]string
}

// Options tune generation. The zero value generates isolation with DNS to kube-dns in
// kube-system and no internet egress.
type Options struct {
	// DNS are the peers pods may query on port 53 (UDP and TCP). Default: pods labelled
	// k8s-app=kube-dns in the namespace kube-system.
	DNS []networkingv1.NetworkPolicyPeer
	// ControlPlane are peers of the virtual control plane when it does not run in the
	// host namespace itself (for example the address of an embedded API server), allowed
	// in both directions. A control plane inside the namespace needs nothing here.
	ControlPlane []networkingv1.NetworkPolicyPeer
	// AllowedPeers are extra peers allowed in both directions (an ingress controller,
	// monitoring).
	AllowedPeers []Peer
	// InternetEgress allows egress to every address outside ExcludedCIDRs and
	// ClusterCIDRs.
	InternetEgress bool
	// ExcludedCIDRs are kept out of internet egress. Default: PrivateCIDRs().
	ExcludedCIDRs []string
	// ClusterCIDRs are the pod and service ranges. They are always excluded from internet
	// egress, whatever ExcludedCIDRs says; required when InternetEgress is set, so that a
	// public pod range can never be reached through the internet rule.
	ClusterCIDRs []string
}

// Generate renders the NetworkPolicies that implement t.Mode for t.Namespace. Mode none
// yields no policy (a reconciler then deletes the generated ones). All selectors that
// reach outside the namespace use only engine-owned labels: tenancy.TreeLabel on
// namespaces, kubernetes.io/metadata.name (set by the API server), and the labels given
// in Options.
func Generate(t Target, opts Options) ([]networkingv1.NetworkPolicy, error) {
	if errs := validate(t, opts); len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalidTarget, errs.ToAggregate())
	}
	if t.Mode == "" || t.Mode == tenancy.IsolationNone {
		return nil, nil
	}
	boundary := t.Boundary
	if boundary == "" {
		boundary = t.Tenant
	}
	var scope networkingv1.NetworkPolicyPeer
	switch t.Mode {
	case tenancy.IsolationTenant:
		scope = networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: tenancy.TreeLabel(boundary), Operator: metav1.LabelSelectorOpExists}},
		}}
	case tenancy.IsolationStrict:
		scope = networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{}}
	}
	peers := []networkingv1.NetworkPolicyPeer{scope}
	for _, p := range opts.AllowedPeers {
		peer := networkingv1.NetworkPolicyPeer{}
		if p.NamespaceLabels != nil {
			peer.NamespaceSelector = &metav1.LabelSelector{MatchLabels: copyMap(p.NamespaceLabels)}
		}
		if p.PodLabels != nil {
			peer.PodSelector = &metav1.LabelSelector{MatchLabels: copyMap(p.PodLabels)}
		}
		peers = append(peers, peer)
	}
	peers = append(peers, opts.ControlPlane...)

	var out []networkingv1.NetworkPolicy
	if t.VirtualCluster == "" {
		out = append(out, t.policy("isolation", networkingv1.NetworkPolicySpec{
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: copyPeers(peers)}},
			Egress:      []networkingv1.NetworkPolicyEgressRule{{To: copyPeers(peers)}},
		}))
	} else {
		out = append(out, virtualClusterIsolation(t, scope, peers[1:])...)
	}
	dns := opts.DNS
	if len(dns) == 0 {
		dns = []networkingv1.NetworkPolicyPeer{{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: "kube-system"}},
			PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
		}}
	}
	udp, tcp := corev1.ProtocolUDP, corev1.ProtocolTCP
	port53 := intstr.FromInt32(53)
	var dnsPeers []networkingv1.NetworkPolicyPeer
	for _, p := range dns {
		dnsPeers = append(dnsPeers, *p.DeepCopy())
	}
	out = append(out, t.policy("dns", networkingv1.NetworkPolicySpec{
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
		Egress: []networkingv1.NetworkPolicyEgressRule{{
			To:    dnsPeers,
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: &udp, Port: &port53}, {Protocol: &tcp, Port: &port53}},
		}},
	}))
	if opts.InternetEgress {
		excluded := opts.ExcludedCIDRs
		if excluded == nil {
			excluded = privateCIDRs
		}
		var to []networkingv1.NetworkPolicyPeer
		for _, all := range []string{"0.0.0.0/0", "::/0"} {
			whole := netip.MustParsePrefix(all)
			block := &networkingv1.IPBlock{CIDR: all}
			for _, c := range append(append([]string(nil), excluded...), opts.ClusterCIDRs...) {
				p, _ := netip.ParsePrefix(c) // validated above
				if p.Addr().Is4() == whole.Addr().Is4() && !contains(block.Except, p.Masked().String()) {
					block.Except = append(block.Except, p.Masked().String())
				}
			}
			sort.Strings(block.Except)
			to = append(to, networkingv1.NetworkPolicyPeer{IPBlock: block})
		}
		out = append(out, t.policy("internet", networkingv1.NetworkPolicySpec{
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress:      []networkingv1.NetworkPolicyEgressRule{{To: to}},
		}))
	}
	return out, nil
}

func copyPeers(peers []networkingv1.NetworkPolicyPeer) []networkingv1.NetworkPolicyPeer {
	out := make([]networkingv1.NetworkPolicyPeer, 0, len(peers))
	for _, p := range peers {
		out = append(out, *p.DeepCopy())
	}
	return out
}

// virtualClusterIsolation is the isolation of a virtual cluster's host namespace, in
// three policies whose union is the single isolation policy of a space for a pod that
// no policy inside the virtual cluster selects:
//
//   - "isolation" isolates every pod in both directions and allows the platform's
//     peers (Options.AllowedPeers, Options.ControlPlane) only;
//   - "isolation-ingress" allows the tenant's scope (Mode) to reach the pods whose
//     LabelIngressPolicies is not "true";
//   - "isolation-egress" lets the pods whose LabelEgressPolicies is not "true" reach
//     the scope.
//
// A pod the tenant's own policies select for a direction thus gets, for it, the
// platform's peers plus whatever those policies (translated to this namespace by the
// networkpolicies syncer) allow, and nothing of the scope they do not: the tenant's
// policies work as in a cluster of its own, and can only ever narrow the isolation.
func virtualClusterIsolation(t Target, scope networkingv1.NetworkPolicyPeer, platform []networkingv1.NetworkPolicyPeer) []networkingv1.NetworkPolicy {
	base := networkingv1.NetworkPolicySpec{
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
	}
	// A rule with no peers would allow everything: none at all denies.
	if len(platform) > 0 {
		base.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: copyPeers(platform)}}
		base.Egress = []networkingv1.NetworkPolicyEgressRule{{To: copyPeers(platform)}}
	}
	without := func(label string) metav1.LabelSelector {
		return metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: label, Operator: metav1.LabelSelectorOpNotIn, Values: []string{"true"}}}}
	}
	return []networkingv1.NetworkPolicy{
		t.policy("isolation", base),
		t.policy("isolation-ingress", networkingv1.NetworkPolicySpec{
			PodSelector: without(LabelIngressPolicies),
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{*scope.DeepCopy()}}},
		}),
		t.policy("isolation-egress", networkingv1.NetworkPolicySpec{
			PodSelector: without(LabelEgressPolicies),
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress:      []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{*scope.DeepCopy()}}},
		}),
	}
}

func (t Target) policy(suffix string, spec networkingv1.NetworkPolicySpec) networkingv1.NetworkPolicy {
	return networkingv1.NetworkPolicy{
		TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace: t.Namespace,
			Name:      NamePrefix + suffix,
			Labels:    map[string]string{LabelManagedBy: ManagedByValue, tenancy.LabelTenant: t.Tenant},
		},
		Spec: spec,
	}
}

func validate(t Target, opts Options) field.ErrorList {
	var errs field.ErrorList
	tp := field.NewPath("target")
	if t.Namespace == "" {
		errs = append(errs, field.Required(tp.Child("namespace"), ""))
	}
	if t.Tenant == "" {
		errs = append(errs, field.Required(tp.Child("tenant"), ""))
	}
	switch t.Mode {
	case "", tenancy.IsolationNone, tenancy.IsolationTenant, tenancy.IsolationStrict:
	default:
		errs = append(errs, field.NotSupported(tp.Child("mode"), t.Mode, []string{"none", "tenant", "strict"}))
	}
	op := field.NewPath("options")
	for i, p := range opts.AllowedPeers {
		if p.NamespaceLabels == nil && p.PodLabels == nil {
			errs = append(errs, field.Required(op.Child("allowedPeers").Index(i), "namespaceLabels or podLabels"))
		}
	}
	clusterRanges := make([]netip.Prefix, 0, len(opts.ClusterCIDRs))
	for i, c := range opts.ClusterCIDRs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			errs = append(errs, field.Invalid(op.Child("clusterCIDRs").Index(i), c, "not a CIDR"))
			continue
		}
		clusterRanges = append(clusterRanges, p.Masked())
	}
	for i, c := range opts.ExcludedCIDRs {
		if _, err := netip.ParsePrefix(c); err != nil {
			errs = append(errs, field.Invalid(op.Child("excludedCIDRs").Index(i), c, "not a CIDR"))
		}
	}
	if opts.InternetEgress && len(opts.ClusterCIDRs) == 0 {
		errs = append(errs, field.Required(op.Child("clusterCIDRs"), "the pod and service ranges must be known to exclude them from internet egress"))
	}
	// An ipBlock peer that overlaps the cluster's ranges would let pods of other
	// tenants in by address, bypassing every label-based rule: refuse it.
	check := func(path *field.Path, peers []networkingv1.NetworkPolicyPeer) {
		for i, p := range peers {
			if p.IPBlock == nil {
				continue
			}
			b, err := netip.ParsePrefix(p.IPBlock.CIDR)
			if err != nil {
				errs = append(errs, field.Invalid(path.Index(i).Child("ipBlock", "cidr"), p.IPBlock.CIDR, "not a CIDR"))
				continue
			}
			for _, r := range clusterRanges {
				if b.Overlaps(r) {
					errs = append(errs, field.Forbidden(path.Index(i).Child("ipBlock", "cidr"),
						fmt.Sprintf("%s overlaps the cluster range %s: pods must be selected by label, not by address", p.IPBlock.CIDR, r)))
				}
			}
		}
	}
	check(op.Child("controlPlane"), opts.ControlPlane)
	check(op.Child("dns"), opts.DNS)
	return errs
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// NamespaceSelectorKeys lists, sorted and without duplicates, every label key that the
// namespaceSelectors of the given policies look at. For generated policies these are
// engine-owned keys only (tenancy.TreeLabel, kubernetes.io/metadata.name) plus the keys
// of Options.AllowedPeers and Options.DNS; a label a tenant can set never decides which
// tenant's pods are reachable.
func NamespaceSelectorKeys(policies []networkingv1.NetworkPolicy) []string {
	set := map[string]bool{}
	add := func(peers []networkingv1.NetworkPolicyPeer) {
		for _, p := range peers {
			if p.NamespaceSelector == nil {
				continue
			}
			for k := range p.NamespaceSelector.MatchLabels {
				set[k] = true
			}
			for _, e := range p.NamespaceSelector.MatchExpressions {
				set[e.Key] = true
			}
		}
	}
	for _, pol := range policies {
		for _, r := range pol.Spec.Ingress {
			add(r.From)
		}
		for _, r := range pol.Spec.Egress {
			add(r.To)
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// IsEngineOwnedNamespaceLabel reports whether key is a namespace label that tenants cannot
// set: the tenancy labels (kept by the engine, which reverts or refuses a change) and
// kubernetes.io/metadata.name (set by the API server to the namespace's name).
func IsEngineOwnedNamespaceLabel(key string) bool {
	return key == corev1.LabelMetadataName || key == tenancy.LabelTenant || key == tenancy.LabelSpace ||
		strings.HasSuffix(key, tenancy.TreeLabelSuffix)
}
