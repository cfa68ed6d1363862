package netpol

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

type podInfo struct {
	ref   Endpoint
	ips   []netip.Addr
	ports map[string]corev1.ContainerPort
}

type compiledPolicy struct {
	ref     PolicyRef
	ingress []compiledRule
	egress  []compiledRule
}

type compiledRule struct {
	allPeers bool
	peers    []compiledPeer
	allPorts bool
	ports    []compiledPort
}

type compiledPeer struct {
	members bitset // pods matched (selector peers and ipBlock peers alike)
	block   *cidrBlock
}

type compiledPort struct {
	protocol corev1.Protocol
	anyPort  bool
	name     string
	from, to int32
}

type cidrBlock struct {
	cidr   netip.Prefix
	except []netip.Prefix
}

func (c *cidrBlock) contains(a netip.Addr) bool {
	if !c.cidr.Contains(a) {
		return false
	}
	for _, e := range c.except {
		if e.Contains(a) {
			return false
		}
	}
	return true
}

type bitset []uint64

func newBitset(n int) bitset    { return make(bitset, (n+63)/64) }
func (b bitset) set(i int)      { b[i/64] |= 1 << (uint(i) % 64) }
func (b bitset) has(i int) bool { return b[i/64]&(1<<(uint(i)%64)) != 0 }

// NewEvaluator validates and compiles its input. Every pod's namespace must be among
// namespaces. The error wraps ErrInvalidInput and lists every bad field.
func NewEvaluator(policies []networkingv1.NetworkPolicy, namespaces []corev1.Namespace, pods []corev1.Pod) (*Evaluator, error) {
	var errs field.ErrorList
	nsLabels := make(map[string]labels.Set, len(namespaces))
	for i := range namespaces {
		ns := &namespaces[i]
		p := field.NewPath("namespaces").Index(i)
		if ns.Name == "" {
			errs = append(errs, field.Required(p.Child("metadata", "name"), ""))
			continue
		}
		if _, dup := nsLabels[ns.Name]; dup {
			errs = append(errs, field.Duplicate(p.Child("metadata", "name"), ns.Name))
			continue
		}
		set := make(labels.Set, len(ns.Labels)+1)
		for k, v := range ns.Labels {
			set[k] = v
		}
		set[corev1.LabelMetadataName] = ns.Name
		nsLabels[ns.Name] = set
	}

	ev := &Evaluator{podIndex: make(map[string]int, len(pods))}
	podLabels := make([]labels.Set, 0, len(pods))
	for i := range pods {
		pod := &pods[i]
		p := field.NewPath("pods").Index(i)
		if pod.Name == "" {
			errs = append(errs, field.Required(p.Child("metadata", "name"), ""))
			continue
		}
		if _, ok := nsLabels[pod.Namespace]; !ok {
			errs = append(errs, field.NotFound(p.Child("metadata", "namespace"), pod.Namespace))
			continue
		}
		key := pod.Namespace + "/" + pod.Name
		if _, dup := ev.podIndex[key]; dup {
			errs = append(errs, field.Duplicate(p.Child("metadata", "name"), key))
			continue
		}
		info := podInfo{ref: PodEndpoint(pod.Namespace, pod.Name), ports: map[string]corev1.ContainerPort{}}
		ips := podIPs(pod)
		for j, s := range ips {
			a, err := netip.ParseAddr(s)
			if err != nil {
				errs = append(errs, field.Invalid(p.Child("status", "podIPs").Index(j), s, "not an IP address"))
				continue
			}
			info.ips = append(info.ips, a)
		}
		for _, c := range append(append([]corev1.Container(nil), pod.Spec.InitContainers...), pod.Spec.Containers...) {
			for _, cp := range c.Ports {
				if cp.Name != "" {
					if cp.Protocol == "" {
						cp.Protocol = corev1.ProtocolTCP
					}
					info.ports[cp.Name] = cp
				}
			}
		}
		ev.podIndex[key] = len(ev.pods)
		ev.pods = append(ev.pods, info)
		podLabels = append(podLabels, labels.Set(pod.Labels))
	}

	n := len(ev.pods)
	ev.egressOf = make([][]int, n)
	ev.ingressOf = make([][]int, n)
	for i := range policies {
		pol := &policies[i]
		p := field.NewPath("policies").Index(i)
		cp, perrs := compilePolicy(pol, p, nsLabels, podLabels, ev.pods)
		if len(perrs) > 0 {
			errs = append(errs, perrs...)
			continue
		}
		sel, err := selector(&pol.Spec.PodSelector)
		if err != nil {
			errs = append(errs, field.Invalid(p.Child("spec", "podSelector"), pol.Spec.PodSelector.String(), err.Error()))
			continue
		}
		ingress, egress := PolicyTypes(pol)
		idx := len(ev.policies)
		ev.policies = append(ev.policies, cp)
		for j := range ev.pods {
			if ev.pods[j].ref.Namespace != pol.Namespace || !sel.Matches(podLabels[j]) {
				continue
			}
			if ingress {
				ev.ingressOf[j] = append(ev.ingressOf[j], idx)
			}
			if egress {
				ev.egressOf[j] = append(ev.egressOf[j], idx)
			}
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalidInput, errs.ToAggregate())
	}
	return ev, nil
}

func podIPs(pod *corev1.Pod) []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	add(pod.Status.PodIP)
	for _, ip := range pod.Status.PodIPs {
		add(ip.IP)
	}
	return out
}

// PolicyTypes reports whether pol isolates the pods it selects for ingress and for
// egress, with the API's defaulting: without explicit policyTypes a policy is always an
// ingress policy, and an egress policy when it has egress rules.
func PolicyTypes(pol *networkingv1.NetworkPolicy) (ingress, egress bool) {
	if len(pol.Spec.PolicyTypes) == 0 {
		return true, len(pol.Spec.Egress) > 0
	}
	for _, t := range pol.Spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress:
			ingress = true
		case networkingv1.PolicyTypeEgress:
			egress = true
		}
	}
	return ingress, egress
}

// selector converts a label selector; nil selects nothing, empty selects everything.
func selector(s *metav1.LabelSelector) (labels.Selector, error) {
	if s == nil {
		return labels.Nothing(), nil
	}
	return metav1.LabelSelectorAsSelector(s)
}

func compilePolicy(pol *networkingv1.NetworkPolicy, p *field.Path, nsLabels map[string]labels.Set,
	podLabels []labels.Set, pods []podInfo) (compiledPolicy, field.ErrorList) {
	var errs field.ErrorList
	cp := compiledPolicy{ref: PolicyRef{Namespace: pol.Namespace, Name: pol.Name, Rule: -1}}
	if pol.Name == "" {
		errs = append(errs, field.Required(p.Child("metadata", "name"), ""))
	}
	for _, t := range pol.Spec.PolicyTypes {
		if t != networkingv1.PolicyTypeIngress && t != networkingv1.PolicyTypeEgress {
			errs = append(errs, field.NotSupported(p.Child("spec", "policyTypes"), t,
				[]string{string(networkingv1.PolicyTypeIngress), string(networkingv1.PolicyTypeEgress)}))
		}
	}
	for i, r := range pol.Spec.Ingress {
		rp := p.Child("spec", "ingress").Index(i)
		cr, rerrs := compileRule(pol.Namespace, r.From, r.Ports, rp.Child("from"), rp.Child("ports"), nsLabels, podLabels, pods)
		errs = append(errs, rerrs...)
		cp.ingress = append(cp.ingress, cr)
	}
	for i, r := range pol.Spec.Egress {
		rp := p.Child("spec", "egress").Index(i)
		cr, rerrs := compileRule(pol.Namespace, r.To, r.Ports, rp.Child("to"), rp.Child("ports"), nsLabels, podLabels, pods)
		errs = append(errs, rerrs...)
		cp.egress = append(cp.egress, cr)
	}
	return cp, errs
}

func compileRule(policyNS string, peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort,
	peersPath, portsPath *field.Path, nsLabels map[string]labels.Set, podLabels []labels.Set, pods []podInfo) (compiledRule, field.ErrorList) {
	var errs field.ErrorList
	cr := compiledRule{allPeers: len(peers) == 0, allPorts: len(ports) == 0}
	for i := range peers {
		peer := &peers[i]
		pp := peersPath.Index(i)
		cpeer := compiledPeer{members: newBitset(len(pods))}
		switch {
		case peer.IPBlock != nil:
			if peer.PodSelector != nil || peer.NamespaceSelector != nil {
				errs = append(errs, field.Forbidden(pp, "may not specify both ipBlock and another peer"))
				continue
			}
			block, berrs := compileBlock(peer.IPBlock, pp.Child("ipBlock"))
			if len(berrs) > 0 {
				errs = append(errs, berrs...)
				continue
			}
			cpeer.block = block
			for j := range pods {
				for _, a := range pods[j].ips {
					if block.contains(a) {
						cpeer.members.set(j)
						break
					}
				}
			}
		case peer.PodSelector != nil || peer.NamespaceSelector != nil:
			podSel := labels.Everything()
			if peer.PodSelector != nil {
				s, err := metav1.LabelSelectorAsSelector(peer.PodSelector)
				if err != nil {
					errs = append(errs, field.Invalid(pp.Child("podSelector"), peer.PodSelector.String(), err.Error()))
					continue
				}
				podSel = s
			}
			var nsSel labels.Selector
			if peer.NamespaceSelector != nil {
				s, err := metav1.LabelSelectorAsSelector(peer.NamespaceSelector)
				if err != nil {
					errs = append(errs, field.Invalid(pp.Child("namespaceSelector"), peer.NamespaceSelector.String(), err.Error()))
					continue
				}
				nsSel = s
			}
			nsMatch := map[string]bool{}
			for j := range pods {
				ns := pods[j].ref.Namespace
				var inNS bool
				if nsSel == nil {
					inNS = ns == policyNS
				} else {
					m, ok := nsMatch[ns]
					if !ok {
						m = nsSel.Matches(nsLabels[ns])
						nsMatch[ns] = m
					}
					inNS = m
				}
				if inNS && podSel.Matches(podLabels[j]) {
					cpeer.members.set(j)
				}
			}
		default:
			errs = append(errs, field.Required(pp, "must specify a peer"))
			continue
		}
		cr.peers = append(cr.peers, cpeer)
	}
	for i, port := range ports {
		pp := portsPath.Index(i)
		c := compiledPort{protocol: corev1.ProtocolTCP}
		if port.Protocol != nil {
			c.protocol = *port.Protocol
		}
		switch c.protocol {
		case corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
		default:
			errs = append(errs, field.NotSupported(pp.Child("protocol"), c.protocol, []string{"TCP", "UDP", "SCTP"}))
			continue
		}
		switch {
		case port.Port == nil:
			c.anyPort = true
			if port.EndPort != nil {
				errs = append(errs, field.Forbidden(pp.Child("endPort"), "may not be specified without port"))
				continue
			}
		case port.Port.Type == intstr.String:
			c.name = port.Port.StrVal
			if c.name == "" {
				errs = append(errs, field.Required(pp.Child("port"), "named port must not be empty"))
				continue
			}
			if port.EndPort != nil {
				errs = append(errs, field.Forbidden(pp.Child("endPort"), "may not be specified with a named port"))
				continue
			}
		default:
			c.from, c.to = port.Port.IntVal, port.Port.IntVal
			if c.from < 1 || c.from > 65535 {
				errs = append(errs, field.Invalid(pp.Child("port"), c.from, "must be between 1 and 65535"))
				continue
			}
			if port.EndPort != nil {
				if *port.EndPort < c.from || *port.EndPort > 65535 {
					errs = append(errs, field.Invalid(pp.Child("endPort"), *port.EndPort, "must be between port and 65535"))
					continue
				}
				c.to = *port.EndPort
			}
		}
		cr.ports = append(cr.ports, c)
	}
	return cr, errs
}

func compileBlock(b *networkingv1.IPBlock, p *field.Path) (*cidrBlock, field.ErrorList) {
	var errs field.ErrorList
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil {
		return nil, field.ErrorList{field.Invalid(p.Child("cidr"), b.CIDR, "not a CIDR")}
	}
	out := &cidrBlock{cidr: cidr.Masked()}
	for i, e := range b.Except {
		ep, err := netip.ParsePrefix(e)
		if err != nil {
			errs = append(errs, field.Invalid(p.Child("except").Index(i), e, "not a CIDR"))
			continue
		}
		if ep.Addr().Is4() != cidr.Addr().Is4() || ep.Bits() < cidr.Bits() || !cidr.Contains(ep.Addr()) {
			errs = append(errs, field.Invalid(p.Child("except").Index(i), e, "must be a strict subset of cidr "+b.CIDR))
			continue
		}
		out.except = append(out.except, ep.Masked())
	}
	return out, errs
}
