package endpointslices

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/syncer"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

// Refusal reasons of the address policy (the Reason of the SyncRefused
// event on the virtual EndpointSlice).
const (
	// ReasonAddressNotAllowed: an address lies in a denied range and is
	// not the IP of one of this virtual cluster's own pods, or it is not
	// a usable unicast IP at all.
	ReasonAddressNotAllowed = "EndpointAddressNotAllowed"
	// ReasonAddressTypeNotAllowed: the slice's address type is FQDN.
	ReasonAddressTypeNotAllowed = "EndpointAddressTypeNotAllowed"
)

// defaultDeniedCIDRs are the ranges a cluster's own networks live in:
// RFC 1918, shared address space (RFC 6598), loopback, link-local, unique
// local and link-local IPv6, IPv6 loopback.
var defaultDeniedCIDRs = []string{
	"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
	"127.0.0.0/8", "169.254.0.0/16", "fc00::/7", "fe80::/10", "::1/128",
}

// DefaultDeniedCIDRs returns the ranges Options.DeniedCIDRs defaults to:
// 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10, 127.0.0.0/8,
// 169.254.0.0/16, fc00::/7, fe80::/10 and ::1/128.
func DefaultDeniedCIDRs() []string { return append([]string(nil), defaultDeniedCIDRs...) }

// Options configure the EndpointSlice syncer. The zero value denies the
// DefaultDeniedCIDRs.
type Options struct {
	// DeniedCIDRs are the address ranges in which an endpoint address is
	// allowed only when it is the pod IP of a host pod of this virtual
	// cluster (in its host namespace, carrying its managed label, not
	// using the host network, not terminated). Addresses outside every
	// range are allowed as they are (external endpoints: a database on a
	// public IP). nil means DefaultDeniedCIDRs(); a non-nil empty slice
	// denies no range. Add the host's node, pod and service ranges here
	// when they are not private addresses.
	DeniedCIDRs []string
}

// policy is the parsed address policy.
type policy struct {
	denied []netip.Prefix
}

func newPolicy(opts Options) (policy, error) {
	cidrs := opts.DeniedCIDRs
	if cidrs == nil {
		cidrs = defaultDeniedCIDRs
	}
	var p policy
	var errs field.ErrorList
	path := field.NewPath("DeniedCIDRs")
	for i, c := range cidrs {
		pr, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			errs = append(errs, field.Invalid(path.Index(i), c, "not a CIDR: "+err.Error()))
			continue
		}
		p.denied = append(p.denied, pr.Masked())
	}
	if err := errs.ToAggregate(); err != nil {
		return policy{}, err
	}
	return p, nil
}

// deniedBy returns the denied range addr lies in, if any.
func (p policy) deniedBy(addr netip.Addr) (netip.Prefix, bool) {
	for _, pr := range p.denied {
		if pr.Contains(addr) {
			return pr, true
		}
	}
	return netip.Prefix{}, false
}

// parseAddress parses an endpoint address into the form pod IPs are
// compared in (IPv4-mapped IPv6 unmapped, no zone). Addresses that are
// never a valid endpoint (unspecified, multicast, broadcast) are errors.
func parseAddress(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("not an IP address")
	}
	a = a.WithZone("").Unmap()
	switch {
	case a.IsUnspecified(), a.IsMulticast(), a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return netip.Addr{}, fmt.Errorf("not a unicast address")
	}
	return a, nil
}

// ownPodIPs returns the IPs of the host pods this virtual cluster manages
// that may serve as endpoints: in its host namespace, with its managed
// label, not on the host network (their IP is the node's) and not
// terminated (their IP may already belong to someone else).
func ownPodIPs(ctx context.Context, sc *syncer.Context) (map[netip.Addr]bool, error) {
	var l corev1.PodList
	if err := sc.Host.List(ctx, &l, client.InNamespace(sc.Translator.HostNamespace()),
		client.MatchingLabels{translate.LabelVirtualCluster: sc.Translator.VirtualCluster()}); err != nil {
		return nil, fmt.Errorf("list host pods: %w", err)
	}
	own := map[netip.Addr]bool{}
	for i := range l.Items {
		p := &l.Items[i]
		if !eligible(sc, p) {
			continue
		}
		for _, ip := range podIPs(p) {
			own[ip] = true
		}
	}
	return own, nil
}

// eligible says whether the IPs of host pod p may serve as endpoints of
// this virtual cluster.
func eligible(sc *syncer.Context, p *corev1.Pod) bool {
	return p.Namespace == sc.Translator.HostNamespace() && sc.Translator.IsManaged(p) && !p.Spec.HostNetwork &&
		p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

// targetPodHas is the fast path of the policy: the endpoint's target
// reference names a virtual pod whose host pod is eligible and has addr.
func targetPodHas(ctx context.Context, sc *syncer.Context, v *discoveryv1.EndpointSlice, ep *discoveryv1.Endpoint, addr netip.Addr) bool {
	ref := ep.TargetRef
	if ref == nil || ref.Kind != "Pod" || ref.Name == "" || (ref.Namespace != "" && ref.Namespace != v.Namespace) {
		return false
	}
	var p corev1.Pod
	if err := sc.Host.Get(ctx, client.ObjectKey{Namespace: sc.Translator.HostNamespace(), Name: sc.Translator.HostName(ref.Name, v.Namespace)}, &p); err != nil {
		return false
	}
	return eligible(sc, &p) && slices.Contains(podIPs(&p), addr)
}

// podIPs returns the parsed IPs of a pod.
func podIPs(p *corev1.Pod) []netip.Addr {
	var out []netip.Addr
	add := func(s string) {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, a.WithZone("").Unmap())
		}
	}
	add(p.Status.PodIP)
	for _, ip := range p.Status.PodIPs {
		if ip.IP != p.Status.PodIP {
			add(ip.IP)
		}
	}
	return out
}

// check refuses a slice with an address the policy does not allow. Host
// pods are read (from the host cache) only for addresses in a denied range:
// first the pod the endpoint's target reference names, then, when that is
// not it, every pod of the virtual cluster once.
func (s *Syncer) check(ctx context.Context, sc *syncer.Context, v *discoveryv1.EndpointSlice) error {
	if v.AddressType == discoveryv1.AddressTypeFQDN {
		return syncer.Refuse(ReasonAddressTypeNotAllowed, "endpoint slice %s/%s has address type FQDN; only IPv4 and IPv6 endpoints are synced to the host", v.Namespace, v.Name)
	}
	var own map[netip.Addr]bool
	for i := range v.Endpoints {
		ep := &v.Endpoints[i]
		for j, addr := range ep.Addresses {
			a, err := parseAddress(addr)
			if err != nil {
				return syncer.Refuse(ReasonAddressNotAllowed, "endpoints[%d].addresses[%d] %q: %v", i, j, addr, err)
			}
			pr, denied := s.policy.deniedBy(a)
			if !denied || targetPodHas(ctx, sc, v, ep, a) {
				continue
			}
			if own == nil {
				if own, err = ownPodIPs(ctx, sc); err != nil {
					return err
				}
			}
			if !own[a] {
				return syncer.Refuse(ReasonAddressNotAllowed, "endpoints[%d].addresses[%d] %s lies in the denied range %s and is not the IP of a pod of this virtual cluster", i, j, addr, pr)
			}
		}
	}
	return nil
}

// addressIndex indexes virtual EndpointSlices by their parsed addresses,
// so a host pod's IP finds the slices that name it.
const addressIndex = "endpointslices.vclusterkit.io/address"

func sliceAddresses(obj client.Object) []string {
	v, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return nil
	}
	var out []string
	for _, ep := range v.Endpoints {
		for _, addr := range ep.Addresses {
			if a, err := netip.ParseAddr(addr); err == nil {
				out = append(out, a.WithZone("").Unmap().String())
			}
		}
	}
	return out
}
