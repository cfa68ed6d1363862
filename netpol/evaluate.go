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
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ErrUnknownEndpoint is returned when a query names a pod the evaluator was not given.
var ErrUnknownEndpoint = errors.New("unknown endpoint")

// ErrInvalidInput wraps every validation failure of NewEvaluator's input; the wrapped
// field.ErrorList names the offending fields.
var ErrInvalidInput = errors.New("invalid network policy input")

// Endpoint is one end of a connection: a pod (Namespace and Pod set) or an address
// outside the cluster's pods (only IP set).
type Endpoint struct {
	Namespace string
	Pod       string
	IP        string
}

// PodEndpoint names the pod namespace/name.
func PodEndpoint(namespace, name string) Endpoint { return Endpoint{Namespace: namespace, Pod: name} }

// ExternalEndpoint names an address that is not a pod (a node, the internet, a VM).
func ExternalEndpoint(ip string) Endpoint { return Endpoint{IP: ip} }

// IsPod reports whether e names a pod.
func (e Endpoint) IsPod() bool { return e.Pod != "" }

func (e Endpoint) String() string {
	if e.IsPod() {
		return e.Namespace + "/" + e.Pod
	}
	return e.IP
}

// PolicyRef names a NetworkPolicy and, where it matters, the index of the rule inside
// its ingress or egress list (-1 when the whole policy is meant).
type PolicyRef struct {
	Namespace string
	Name      string
	Rule      int
}

func (r PolicyRef) String() string {
	if r.Rule < 0 {
		return r.Namespace + "/" + r.Name
	}
	return fmt.Sprintf("%s/%s#%d", r.Namespace, r.Name, r.Rule)
}

// DirectionResult is the outcome on one side of a connection: the egress side of the
// source or the ingress side of the destination.
type DirectionResult struct {
	// Isolated is true when at least one policy of this direction selects the pod;
	// an unisolated side allows everything (the Kubernetes default).
	Isolated bool
	// Selecting lists the policies of this direction that select the pod (Rule -1).
	Selecting []PolicyRef
	// AllowedBy lists the rules that allow this connection.
	AllowedBy []PolicyRef
}

// Allowed reports whether this side lets the connection through.
func (d DirectionResult) Allowed() bool { return !d.Isolated || len(d.AllowedBy) > 0 }

// Verdict is the answer to "may From reach To on Port/Protocol" with its reasons.
type Verdict struct {
	From, To Endpoint
	Port     int32
	Protocol corev1.Protocol
	// Allowed is true only when both the egress of From and the ingress of To allow.
	Allowed bool
	Egress  DirectionResult
	Ingress DirectionResult
}

// Explain renders the verdict and the policies behind it in one line.
func (v Verdict) Explain() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s -> %s %s/%d: ", v.From, v.To, strings.ToLower(string(v.Protocol)), v.Port)
	if v.Allowed {
		b.WriteString("allowed")
	} else {
		b.WriteString("denied")
	}
	b.WriteString("; egress: ")
	explainSide(&b, v.Egress, v.From)
	b.WriteString("; ingress: ")
	explainSide(&b, v.Ingress, v.To)
	return b.String()
}

func explainSide(b *strings.Builder, d DirectionResult, e Endpoint) {
	switch {
	case !e.IsPod():
		b.WriteString("not a pod, no policy applies")
	case !d.Isolated:
		b.WriteString("no policy selects " + e.String() + " (default allow)")
	case len(d.AllowedBy) > 0:
		b.WriteString("allowed by " + joinRefs(d.AllowedBy))
	default:
		b.WriteString("isolated by " + joinRefs(d.Selecting) + " and no rule matches")
	}
}

func joinRefs(refs []PolicyRef) string {
	s := make([]string, len(refs))
	for i, r := range refs {
		s[i] = r.String()
	}
	return strings.Join(s, ", ")
}

// Evaluate answers whether from may reach to on port/protocol under the given policies,
// following Kubernetes NetworkPolicy semantics. It compiles its input on every call:
// use NewEvaluator to ask many questions about the same objects.
func Evaluate(policies []networkingv1.NetworkPolicy, namespaces []corev1.Namespace, pods []corev1.Pod,
	from, to Endpoint, port int32, protocol corev1.Protocol) (Verdict, error) {
	ev, err := NewEvaluator(policies, namespaces, pods)
	if err != nil {
		return Verdict{}, err
	}
	return ev.Check(from, to, port, protocol)
}

// Evaluator answers reachability questions about a fixed set of policies, namespaces and
// pods. It is immutable after construction and safe for concurrent use.
//
// Semantics follow the NetworkPolicy API: a pod is isolated for a direction when a policy
// of that type selects it; then a connection is allowed only if some rule of a selecting
// policy matches the peer and the port; a connection needs both the egress of the source
// and the ingress of the destination. Peers given by podSelector/namespaceSelector match
// pods only; ipBlock peers match addresses, including pod addresses (the most permissive
// reading, which is the safe one for proving isolation). Named ports resolve against the
// destination pod's container ports. Namespaces carry the label
// kubernetes.io/metadata.name=<name> as the API server sets it. Loopback (a pod to itself)
// is evaluated like any other pair.
type Evaluator struct {
	pods     []podInfo
	podIndex map[string]int
	policies []compiledPolicy
	// per pod: indexes into policies of those selecting it, per direction
	egressOf  [][]int
	ingressOf [][]int
}

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
		ingress, egress := policyTypes(pol)
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

// policyTypes applies the API's defaulting: without explicit policyTypes a policy is
// always an ingress policy, and an egress policy when it has egress rules.
func policyTypes(pol *networkingv1.NetworkPolicy) (ingress, egress bool) {
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

// Check answers one question. Pods are named by Namespace and Pod; other endpoints by IP.
func (ev *Evaluator) Check(from, to Endpoint, port int32, protocol corev1.Protocol) (Verdict, error) {
	src, err := ev.resolve(from, "from")
	if err != nil {
		return Verdict{}, err
	}
	dst, err := ev.resolve(to, "to")
	if err != nil {
		return Verdict{}, err
	}
	if protocol == "" {
		protocol = corev1.ProtocolTCP
	}
	v := Verdict{From: from, To: to, Port: port, Protocol: protocol}
	v.Egress = ev.side(src, dst, port, protocol, true)
	v.Ingress = ev.side(dst, src, port, protocol, false)
	v.Allowed = v.Egress.Allowed() && v.Ingress.Allowed()
	return v, nil
}

type resolved struct {
	idx int // -1 when not a pod
	ips []netip.Addr
}

func (ev *Evaluator) resolve(e Endpoint, name string) (resolved, error) {
	if e.IsPod() {
		i, ok := ev.podIndex[e.Namespace+"/"+e.Pod]
		if !ok {
			return resolved{}, fmt.Errorf("%s: pod %s: %w", name, e, ErrUnknownEndpoint)
		}
		return resolved{idx: i, ips: ev.pods[i].ips}, nil
	}
	a, err := netip.ParseAddr(e.IP)
	if err != nil {
		return resolved{}, fmt.Errorf("%s: %q is neither a pod nor an IP address: %w", name, e.IP, ErrUnknownEndpoint)
	}
	return resolved{idx: -1, ips: []netip.Addr{a}}, nil
}

// side evaluates the policies selecting self (egress: self is the source, ingress: self is
// the destination) against the peer and collects every policy and rule involved.
func (ev *Evaluator) side(self, peer resolved, port int32, proto corev1.Protocol, egress bool) DirectionResult {
	var d DirectionResult
	if self.idx < 0 {
		return d
	}
	var sel []int
	if egress {
		sel = ev.egressOf[self.idx]
	} else {
		sel = ev.ingressOf[self.idx]
	}
	if len(sel) == 0 {
		return d
	}
	d.Isolated = true
	// Named ports resolve at the destination: the peer for egress, self for ingress.
	dstIdx := self.idx
	if egress {
		dstIdx = peer.idx
	}
	for _, pi := range sel {
		pol := &ev.policies[pi]
		d.Selecting = append(d.Selecting, pol.ref)
		rules := pol.ingress
		if egress {
			rules = pol.egress
		}
		for ri := range rules {
			r := &rules[ri]
			if !ev.portMatches(r, dstIdx, port, proto) || !peerMatches(r, peer) {
				continue
			}
			ref := pol.ref
			ref.Rule = ri
			d.AllowedBy = append(d.AllowedBy, ref)
		}
	}
	return d
}

// allows is side without the explanation, for bulk questions.
func (ev *Evaluator) allows(self, peer resolved, port int32, proto corev1.Protocol, egress bool) bool {
	if self.idx < 0 {
		return true
	}
	sel := ev.ingressOf[self.idx]
	dstIdx := self.idx
	if egress {
		sel = ev.egressOf[self.idx]
		dstIdx = peer.idx
	}
	if len(sel) == 0 {
		return true
	}
	for _, pi := range sel {
		rules := ev.policies[pi].ingress
		if egress {
			rules = ev.policies[pi].egress
		}
		for ri := range rules {
			if ev.portMatches(&rules[ri], dstIdx, port, proto) && peerMatches(&rules[ri], peer) {
				return true
			}
		}
	}
	return false
}

func peerMatches(r *compiledRule, peer resolved) bool {
	if r.allPeers {
		return true
	}
	for i := range r.peers {
		p := &r.peers[i]
		if peer.idx >= 0 {
			if p.members.has(peer.idx) {
				return true
			}
			continue
		}
		if p.block != nil {
			for _, a := range peer.ips {
				if p.block.contains(a) {
					return true
				}
			}
		}
	}
	return false
}

func (ev *Evaluator) portMatches(r *compiledRule, dstIdx int, port int32, proto corev1.Protocol) bool {
	if r.allPorts {
		return true
	}
	for _, p := range r.ports {
		if p.protocol != proto {
			continue
		}
		switch {
		case p.anyPort:
			return true
		case p.name != "":
			if dstIdx < 0 {
				continue
			}
			cp, ok := ev.pods[dstIdx].ports[p.name]
			if ok && cp.ContainerPort == port && cp.Protocol == proto {
				return true
			}
		default:
			if port >= p.from && port <= p.to {
				return true
			}
		}
	}
	return false
}

// Pods lists the pods the evaluator knows, in input order.
func (ev *Evaluator) Pods() []Endpoint {
	out := make([]Endpoint, len(ev.pods))
	for i := range ev.pods {
		out[i] = ev.pods[i].ref
	}
	return out
}

// Matrix computes reachability between every ordered pair of the given pods (all known
// pods when endpoints is empty) on one port and protocol.
func (ev *Evaluator) Matrix(endpoints []Endpoint, port int32, protocol corev1.Protocol) (*Matrix, error) {
	if len(endpoints) == 0 {
		endpoints = ev.Pods()
	}
	if protocol == "" {
		protocol = corev1.ProtocolTCP
	}
	res := make([]resolved, len(endpoints))
	for i, e := range endpoints {
		r, err := ev.resolve(e, fmt.Sprintf("endpoints[%d]", i))
		if err != nil {
			return nil, err
		}
		res[i] = r
	}
	m := &Matrix{Endpoints: append([]Endpoint(nil), endpoints...), Allowed: make([][]bool, len(endpoints))}
	for i := range res {
		row := make([]bool, len(res))
		for j := range res {
			row[j] = ev.allows(res[i], res[j], port, protocol, true) && ev.allows(res[j], res[i], port, protocol, false)
		}
		m.Allowed[i] = row
	}
	return m, nil
}

// Matrix is a reachability truth table: Allowed[i][j] says whether Endpoints[i] may open a
// connection to Endpoints[j].
type Matrix struct {
	Endpoints []Endpoint
	// Names, when set, label the rows and columns in String instead of the endpoints.
	Names   []string
	Allowed [][]bool
}

// String renders the table as the upstream e2e tests print it: rows are sources, columns
// destinations, "." allowed and "X" denied.
func (m *Matrix) String() string {
	names := make([]string, len(m.Endpoints))
	for i, e := range m.Endpoints {
		names[i] = e.String()
		if i < len(m.Names) && m.Names[i] != "" {
			names[i] = m.Names[i]
		}
	}
	return renderTable(names, names, m.Allowed)
}

// Diff lists the pairs where m and other disagree, "from -> to: got X want Y", sorted.
// Both matrices must have the same endpoints in the same order.
func (m *Matrix) Diff(want *Matrix) []string {
	var out []string
	for i := range m.Endpoints {
		for j := range m.Endpoints {
			if m.Allowed[i][j] != want.Allowed[i][j] {
				out = append(out, fmt.Sprintf("%s -> %s: got %s want %s", m.Endpoints[i], m.Endpoints[j],
					word(m.Allowed[i][j]), word(want.Allowed[i][j])))
			}
		}
	}
	sort.Strings(out)
	return out
}

func word(b bool) string {
	if b {
		return "allowed"
	}
	return "denied"
}

func renderTable(rows, cols []string, cells [][]bool) string {
	width := 1
	for _, s := range append(append([]string(nil), rows...), cols...) {
		width = max(width, len(s))
	}
	var b strings.Builder
	pad := func(s string) { fmt.Fprintf(&b, "%-*s ", width, s) }
	pad("-")
	for _, c := range cols {
		pad(c)
	}
	b.WriteString("\n")
	for i, r := range rows {
		pad(r)
		for j := range cols {
			if cells[i][j] {
				pad(".")
			} else {
				pad("X")
			}
		}
		b.WriteString("\n")
	}
	lines := strings.Split(b.String(), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	return strings.Join(lines, "\n")
}
