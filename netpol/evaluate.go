package netpol

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
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
