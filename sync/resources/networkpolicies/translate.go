package networkpolicies

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/vclusterkit/vclusterkit/sync/translate"
)

// defaultHostCIDRs are the ranges a cluster's own networks live in: RFC
// 1918, shared address space (RFC 6598), loopback, link-local, unique
// local and link-local IPv6, IPv6 loopback.
var defaultHostCIDRs = []string{
	"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
	"127.0.0.0/8", "169.254.0.0/16", "fc00::/7", "fe80::/10", "::1/128",
}

// DefaultHostCIDRs returns the ranges Options.HostCIDRs defaults to (a
// fresh copy): 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10,
// 127.0.0.0/8, 169.254.0.0/16, fc00::/7, fe80::/10 and ::1/128. They hold
// the pod, service and node ranges of almost every cluster.
func DefaultHostCIDRs() []string { return append([]string(nil), defaultHostCIDRs...) }

// ParseHostCIDRs parses host ranges for ToHost; nil means
// DefaultHostCIDRs. path names the field in errors.
func ParseHostCIDRs(path *field.Path, cidrs []string) ([]netip.Prefix, error) {
	if cidrs == nil {
		cidrs = defaultHostCIDRs
	}
	var out []netip.Prefix
	var errs field.ErrorList
	for i, c := range cidrs {
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			errs = append(errs, field.Invalid(path.Index(i), c, "not a CIDR: "+err.Error()))
			continue
		}
		out = append(out, p.Masked())
	}
	if len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	return out, nil
}

// Input is what ToHost translates.
type Input struct {
	// Translator is bound to the virtual cluster and its host namespace.
	Translator *translate.Translator
	// Policy is the virtual NetworkPolicy.
	Policy *networkingv1.NetworkPolicy
	// Namespaces are the virtual cluster's namespaces, against which
	// namespaceSelectors are resolved. Only needed when a peer has a
	// non-empty namespaceSelector.
	Namespaces []corev1.Namespace
	// HostCIDRs no ipBlock may open (see ParseHostCIDRs).
	HostCIDRs []netip.Prefix
}

// Output is the host policy and what was narrowed on the way.
type Output struct {
	// Policy carries the host spec only; the engine sets the metadata.
	Policy *networkingv1.NetworkPolicy
	// Narrowed says, one sentence per tenant-written ipBlock, which host
	// ranges were cut out of it. Empty when nothing was narrowed.
	Narrowed []string
}

// ToHost translates a virtual NetworkPolicy into the spec of its host
// copy, following the rules in the package documentation. It fails (with
// an error wrapping translate.ErrInvalid, naming the field) only on input
// the host could not express: label keys that cannot be escaped, CIDRs
// that do not parse.
func ToHost(in Input) (Output, error) {
	tr, v := in.Translator, in.Policy
	spec := field.NewPath("spec")
	t := translator{tr: tr, ns: v.Namespace, namespaces: in.Namespaces, hostCIDRs: in.HostCIDRs}
	var errs field.ErrorList
	pod, err := tr.ScopeSelector(spec.Child("podSelector"), v.Namespace, &v.Spec.PodSelector)
	if err != nil {
		errs = append(errs, field.Invalid(spec.Child("podSelector"), v.Spec.PodSelector.String(), err.Error()))
	}
	out := &networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{PolicyTypes: slices.Clone(v.Spec.PolicyTypes)}}
	if pod != nil {
		out.Spec.PodSelector = *pod
	}
	for i, r := range v.Spec.Ingress {
		p := spec.Child("ingress").Index(i)
		peers, perrs := t.peers(p.Child("from"), r.From)
		errs = append(errs, perrs...)
		out.Spec.Ingress = append(out.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: peers, Ports: copyPorts(r.Ports)})
	}
	for i, r := range v.Spec.Egress {
		p := spec.Child("egress").Index(i)
		peers, perrs := t.peers(p.Child("to"), r.To)
		errs = append(errs, perrs...)
		out.Spec.Egress = append(out.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: peers, Ports: copyPorts(r.Ports)})
	}
	if len(errs) > 0 {
		return Output{}, fmt.Errorf("%w: %w", translate.ErrInvalid, errs.ToAggregate())
	}
	return Output{Policy: out, Narrowed: t.narrowed}, nil
}

type translator struct {
	tr         *translate.Translator
	ns         string
	namespaces []corev1.Namespace
	hostCIDRs  []netip.Prefix
	narrowed   []string
}

// peers translates the peers of one rule. An empty list (every source or
// destination) becomes every pod of this virtual cluster plus every
// address outside the host ranges: the world as seen from inside the
// virtual cluster.
func (t *translator) peers(path *field.Path, peers []networkingv1.NetworkPolicyPeer) ([]networkingv1.NetworkPolicyPeer, field.ErrorList) {
	if len(peers) == 0 {
		all, err := t.tr.ScopeSelectorNamespaces(path, nil, &metav1.LabelSelector{})
		if err != nil {
			return nil, field.ErrorList{field.InternalError(path, err)}
		}
		out := []networkingv1.NetworkPolicyPeer{{PodSelector: all}}
		for _, world := range []string{"0.0.0.0/0", "::/0"} {
			if b, _ := t.ipBlock(&networkingv1.IPBlock{CIDR: world}); b != nil {
				out = append(out, networkingv1.NetworkPolicyPeer{IPBlock: b})
			}
		}
		return out, nil
	}
	var errs field.ErrorList
	out := make([]networkingv1.NetworkPolicyPeer, 0, len(peers))
	for i, p := range peers {
		pp := path.Index(i)
		switch {
		case p.IPBlock != nil:
			b, err := t.ipBlock(p.IPBlock)
			if err != nil {
				errs = append(errs, field.Invalid(pp.Child("ipBlock"), p.IPBlock.CIDR, err.Error()))
				continue
			}
			if b == nil {
				t.narrowed = append(t.narrowed, fmt.Sprintf("ipBlock %s lies inside the host's ranges and allows nothing", p.IPBlock.CIDR))
				out = append(out, t.nothing())
				continue
			}
			if len(b.Except) > len(p.IPBlock.Except) {
				t.narrowed = append(t.narrowed, fmt.Sprintf("ipBlock %s: the host's ranges %s are excepted", p.IPBlock.CIDR, strings.Join(b.Except[len(p.IPBlock.Except):], ", ")))
			}
			out = append(out, networkingv1.NetworkPolicyPeer{IPBlock: b})
		case p.NamespaceSelector != nil:
			pod := p.PodSelector
			if pod == nil {
				pod = &metav1.LabelSelector{}
			}
			nsSel := p.NamespaceSelector
			var names []string // nil: every namespace of this virtual cluster
			if len(nsSel.MatchLabels) > 0 || len(nsSel.MatchExpressions) > 0 {
				s, err := metav1.LabelSelectorAsSelector(nsSel)
				if err != nil {
					errs = append(errs, field.Invalid(pp.Child("namespaceSelector"), nsSel.String(), err.Error()))
					continue
				}
				names = t.matchNamespaces(s)
				if len(names) == 0 {
					out = append(out, t.nothing())
					continue
				}
			}
			sel, err := t.tr.ScopeSelectorNamespaces(pp.Child("podSelector"), names, pod)
			if err != nil {
				errs = append(errs, field.Invalid(pp.Child("podSelector"), pod.String(), err.Error()))
				continue
			}
			out = append(out, networkingv1.NetworkPolicyPeer{PodSelector: sel})
		case p.PodSelector != nil:
			sel, err := t.tr.ScopeSelector(pp.Child("podSelector"), t.ns, p.PodSelector)
			if err != nil {
				errs = append(errs, field.Invalid(pp.Child("podSelector"), p.PodSelector.String(), err.Error()))
				continue
			}
			out = append(out, networkingv1.NetworkPolicyPeer{PodSelector: sel})
		default:
			// The API server refuses an empty peer; never let one through
			// as "everything".
			out = append(out, t.nothing())
		}
	}
	return out, errs
}

func (t *translator) matchNamespaces(s labels.Selector) []string {
	var names []string
	for _, ns := range t.namespaces {
		l := labels.Set{corev1.LabelMetadataName: ns.Name}
		for k, v := range ns.Labels {
			l[k] = v
		}
		if s.Matches(l) {
			names = append(names, ns.Name)
		}
	}
	slices.Sort(names)
	return names
}

// nothing is a peer that matches no pod: a rule whose peers all narrowed
// away must allow nothing rather than, with an empty list, everything.
func (t *translator) nothing() networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{
		MatchLabels:      map[string]string{translate.LabelVirtualCluster: t.tr.VirtualCluster()},
		MatchExpressions: []metav1.LabelSelectorRequirement{{Key: translate.LabelVirtualCluster, Operator: metav1.LabelSelectorOpDoesNotExist}},
	}}
}

// ipBlock narrows b by the host ranges: a host range inside b is added to
// except (unless an except the tenant wrote already covers it); b inside
// a host range yields nil (the peer allows nothing).
func (t *translator) ipBlock(b *networkingv1.IPBlock) (*networkingv1.IPBlock, error) {
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil {
		return nil, fmt.Errorf("not a CIDR: %w", err)
	}
	cidr = cidr.Masked()
	var except []netip.Prefix
	for _, e := range b.Except {
		p, err := netip.ParsePrefix(e)
		if err != nil {
			return nil, fmt.Errorf("except %q is not a CIDR: %w", e, err)
		}
		except = append(except, p.Masked())
	}
	out := &networkingv1.IPBlock{CIDR: b.CIDR, Except: slices.Clone(b.Except)}
	for _, h := range t.hostCIDRs {
		if h.Addr().Is4() != cidr.Addr().Is4() {
			continue
		}
		if h.Bits() <= cidr.Bits() && h.Contains(cidr.Addr()) {
			return nil, nil
		}
		if cidr.Bits() < h.Bits() && cidr.Contains(h.Addr()) && !covered(except, h) {
			except = append(except, h)
			out.Except = append(out.Except, h.String())
		}
	}
	return out, nil
}

func covered(by []netip.Prefix, p netip.Prefix) bool {
	for _, e := range by {
		if e.Bits() <= p.Bits() && e.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

func copyPorts(ports []networkingv1.NetworkPolicyPort) []networkingv1.NetworkPolicyPort {
	if ports == nil {
		return nil
	}
	out := make([]networkingv1.NetworkPolicyPort, len(ports))
	for i := range ports {
		ports[i].DeepCopyInto(&out[i])
	}
	return out
}

// usesNamespaceLabels reports whether a policy has a peer whose
// namespaceSelector depends on namespace labels (so it must be translated
// again when a namespace changes).
func usesNamespaceLabels(p *networkingv1.NetworkPolicy) bool {
	check := func(peers []networkingv1.NetworkPolicyPeer) bool {
		for _, peer := range peers {
			if s := peer.NamespaceSelector; s != nil && (len(s.MatchLabels) > 0 || len(s.MatchExpressions) > 0) {
				return true
			}
		}
		return false
	}
	for _, r := range p.Spec.Ingress {
		if check(r.From) {
			return true
		}
	}
	for _, r := range p.Spec.Egress {
		if check(r.To) {
			return true
		}
	}
	return false
}
