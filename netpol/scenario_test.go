package netpol

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// The proof scenario: three tenants, nested sub-tenants, two virtual clusters.
//
//	acme (tenant)            globex (tenant)               initech (none)
//	├── acme-web             └── globex-dev (tenant again)
//	│     spaces: acme-web-site      │  vcluster vc2 in globex-dev-vc2
//	│     vcluster vc1 in acme-web-vc1
//	└── acme-data (strict)           └── globex-dev-ml
//	      spaces: acme-data-db, acme-data-etl   space: globex-dev-ml-train
//	spaces: acme-prod        space: globex-main            space: initech-app
//
// plus kube-system (DNS) and ingress-nginx (an allowed peer), neither owned by a tenant.
func scenarioTenants() []tenancy.Tenant {
	t := func(name, parent string, mode tenancy.IsolationMode) tenancy.Tenant {
		return tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: tenancy.TenantSpec{Parent: parent, Policy: tenancy.Policy{NetworkIsolation: mode}}}
	}
	return []tenancy.Tenant{
		t("acme", "", tenancy.IsolationTenant),
		t("acme-web", "acme", ""),
		t("acme-data", "acme", tenancy.IsolationStrict),
		t("globex", "", tenancy.IsolationTenant),
		t("globex-dev", "globex", tenancy.IsolationTenant),
		t("globex-dev-ml", "globex-dev", ""),
		t("initech", "", tenancy.IsolationNone),
	}
}

type scenarioNS struct{ ns, tenant, vc string }

var scenarioNamespaces = []scenarioNS{
	{"acme-prod", "acme", ""},
	{"acme-web-site", "acme-web", ""},
	{"acme-web-vc1", "acme-web", "vc1"},
	{"acme-data-db", "acme-data", ""},
	{"acme-data-etl", "acme-data", ""},
	{"globex-main", "globex", ""},
	{"globex-dev-vc2", "globex-dev", "vc2"},
	{"globex-dev-ml-train", "globex-dev-ml", ""},
	{"initech-app", "initech", ""},
	{"kube-system", "", ""},
	{"ingress-nginx", "", ""},
}

func tenantPath(tenants []tenancy.Tenant, name string) []string {
	parent := map[string]string{}
	for _, t := range tenants {
		parent[t.Name] = t.Spec.Parent
	}
	var path []string
	for cur := name; cur != ""; cur = parent[cur] {
		path = append([]string{cur}, path...)
	}
	return path
}

// scenario returns the targets and the namespaces labelled as the engine labels them.
func scenario(t testing.TB) ([]Target, []corev1.Namespace) {
	tenants := scenarioTenants()
	var targets []Target
	var namespaces []corev1.Namespace
	for _, s := range scenarioNamespaces {
		ns := corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: s.ns, Labels: map[string]string{}}}
		if s.tenant != "" {
			ns.Labels = tenancy.TreeLabels(tenantPath(tenants, s.tenant))
			ns.Labels[tenancy.LabelTenant] = s.tenant
			tg, err := TargetFor(tenants, s.tenant, s.ns, s.vc)
			if err != nil {
				t.Fatal(err)
			}
			targets = append(targets, tg)
		}
		namespaces = append(namespaces, ns)
	}
	return targets, namespaces
}

func scenarioOptions() Options {
	return Options{
		AllowedPeers: []Peer{{NamespaceLabels: map[string]string{corev1.LabelMetadataName: "ingress-nginx"}}},
		ClusterCIDRs: []string{"10.244.0.0/16", "10.96.0.0/12"},
	}
}

// wantScenario is the matrix derived by hand from the isolation rules: tenant mode reaches
// the boundary's subtree (acme: acme, acme-web, acme-data; globex-dev narrows its subtree to
// itself and globex-dev-ml), strict reaches its own namespace, ingress-nginx reaches everyone,
// and untenanted or mode-none namespaces are reached only by each other.
// Columns are in the same order as the rows.
var wantScenario = []string{
	"space/acme-prod[acme,tenant]                    ...XXXXXXX.",
	"space/acme-web-site[acme-web,tenant]            ...XXXXXXX.",
	"vcluster/acme-web-vc1/vc1[acme-web,tenant]      ...XXXXXXX.",
	"space/acme-data-db[acme-data,strict]            XXX.XXXXXX.",
	"space/acme-data-etl[acme-data,strict]           XXXX.XXXXX.",
	"space/globex-main[globex,tenant]                XXXXX.XXXX.",
	"vcluster/globex-dev-vc2/vc2[globex-dev,tenant]  XXXXXX..XX.",
	"space/globex-dev-ml-train[globex-dev-ml,tenant] XXXXXX..XX.",
	"space/initech-app[initech,none]                 XXXXXXXX...",
	"kube-system                                     XXXXXXXX...",
	"ingress-nginx                                   ...........",
}

// rows renders a matrix compactly: one line per source, "." reachable, "X" not.
func rows(m *Matrix) []string {
	out := make([]string, len(m.Allowed))
	for i, row := range m.Allowed {
		var b strings.Builder
		fmt.Fprintf(&b, "%-48s", m.Names[i])
		for _, ok := range row {
			if ok {
				b.WriteByte('.')
			} else {
				b.WriteByte('X')
			}
		}
		out[i] = b.String()
	}
	return out
}

func TestScenarioMatrixProof(t *testing.T) {
	targets, namespaces := scenario(t)
	for _, internet := range []bool{false, true} {
		opts := scenarioOptions()
		opts.InternetEgress = internet
		got, err := Connectivity(ConnectivityInput{Targets: targets, Namespaces: namespaces, Options: opts})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantScenario, rows(got)); diff != "" {
			t.Errorf("internet egress %v: reachability (-want +got):\n%s", internet, diff)
		}
	}
}

func TestScenarioDNSAndInternet(t *testing.T) {
	targets, namespaces := scenario(t)
	opts := scenarioOptions()
	opts.InternetEgress = true
	var policies []networkingv1.NetworkPolicy
	for _, tg := range targets {
		ps, err := Generate(tg, opts)
		if err != nil {
			t.Fatal(err)
		}
		policies = append(policies, ps...)
	}
	pods := []corev1.Pod{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "acme-prod", Name: "app"}, Status: corev1.PodStatus{PodIP: "10.244.1.1"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "coredns", Labels: map[string]string{"k8s-app": "kube-dns"}}, Status: corev1.PodStatus{PodIP: "10.244.0.10"}},
		// A pod of another tenant dressed up as DNS: selectors are namespace-scoped.
		{ObjectMeta: metav1.ObjectMeta{Namespace: "globex-main", Name: "fake-dns", Labels: map[string]string{"k8s-app": "kube-dns"}}, Status: corev1.PodStatus{PodIP: "10.244.2.1"}},
	}
	ev, err := NewEvaluator(policies, namespaces, pods)
	if err != nil {
		t.Fatal(err)
	}
	app := PodEndpoint("acme-prod", "app")
	tests := []struct {
		to    Endpoint
		port  int32
		proto corev1.Protocol
		want  bool
	}{
		{PodEndpoint("kube-system", "coredns"), 53, corev1.ProtocolUDP, true},
		{PodEndpoint("kube-system", "coredns"), 53, corev1.ProtocolTCP, true},
		{PodEndpoint("kube-system", "coredns"), 80, corev1.ProtocolTCP, false},
		{PodEndpoint("globex-main", "fake-dns"), 53, corev1.ProtocolUDP, false},
		{ExternalEndpoint("8.8.8.8"), 443, corev1.ProtocolTCP, true},
		{ExternalEndpoint("2001:4860:4860::8888"), 443, corev1.ProtocolTCP, true},
		{ExternalEndpoint("169.254.169.254"), 80, corev1.ProtocolTCP, false}, // cloud metadata
		{ExternalEndpoint("10.0.0.1"), 443, corev1.ProtocolTCP, false},
		{ExternalEndpoint("192.168.1.1"), 443, corev1.ProtocolTCP, false},
		{ExternalEndpoint("fd00::1"), 443, corev1.ProtocolTCP, false},
	}
	for _, tc := range tests {
		v, err := ev.Check(app, tc.to, tc.port, tc.proto)
		if err != nil {
			t.Fatal(err)
		}
		if v.Allowed != tc.want {
			t.Errorf("want allowed=%v: %s", tc.want, v.Explain())
		}
	}
}

// Attack: a tenant labels its pod with every tenancy label of another tenant. Policies
// select peers by namespace labels, and pod selectors only apply inside the policy's own
// namespace, so the disguise opens nothing in either direction.
func TestAttackPodLabelledAsAnotherTenant(t *testing.T) {
	targets, namespaces := scenario(t)
	var policies []networkingv1.NetworkPolicy
	for _, tg := range targets {
		ps, err := Generate(tg, scenarioOptions())
		if err != nil {
			t.Fatal(err)
		}
		policies = append(policies, ps...)
	}
	disguise := map[string]string{tenancy.LabelTenant: "acme", tenancy.LabelSpace: "acme-prod", tenancy.TreeLabel("acme"): "0",
		"vcluster.vclusterkit.io/name": "vc1", corev1.LabelMetadataName: "acme-prod"}
	pods := []corev1.Pod{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "acme-prod", Name: "victim"}, Status: corev1.PodStatus{PodIP: "10.244.1.1"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "globex-main", Name: "spy", Labels: disguise}, Status: corev1.PodStatus{PodIP: "10.244.2.1"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "initech-app", Name: "spy", Labels: disguise}, Status: corev1.PodStatus{PodIP: "10.244.3.1"}},
	}
	ev, err := NewEvaluator(policies, namespaces, pods)
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"globex-main", "initech-app"} {
		spy, victim := PodEndpoint(ns, "spy"), PodEndpoint("acme-prod", "victim")
		for _, pair := range [][2]Endpoint{{spy, victim}, {victim, spy}} {
			v, err := ev.Check(pair[0], pair[1], 80, corev1.ProtocolTCP)
			if err != nil {
				t.Fatal(err)
			}
			if v.Allowed {
				t.Errorf("disguised pod got through: %s", v.Explain())
			}
		}
	}
}

// Attack: a tenant relabels its namespace to match another tenant's selector. Labels a
// tenant may set change nothing, because generated policies select namespaces only by
// engine-owned labels. The engine owns the tenancy labels (tenancy's admission refuses and
// its controllers revert a change); the last sub-test shows that this ownership is what
// the isolation rests on.
func TestAttackNamespaceRelabelled(t *testing.T) {
	targets, namespaces := scenario(t)
	opts := scenarioOptions()
	opts.InternetEgress = true
	var policies []networkingv1.NetworkPolicy
	for _, tg := range targets {
		ps, err := Generate(tg, opts)
		if err != nil {
			t.Fatal(err)
		}
		policies = append(policies, ps...)
	}
	t.Run("selectors use engine-owned labels only", func(t *testing.T) {
		allowedExtra := map[string]bool{} // keys of Options.AllowedPeers/DNS are the operator's
		for _, p := range opts.AllowedPeers {
			for k := range p.NamespaceLabels {
				allowedExtra[k] = true
			}
		}
		for _, k := range NamespaceSelectorKeys(policies) {
			if !IsEngineOwnedNamespaceLabel(k) && !allowedExtra[k] {
				t.Errorf("generated policies select namespaces by %q, a label the engine does not own", k)
			}
		}
		for _, p := range policies {
			if p.Labels[LabelManagedBy] != ManagedByValue || !strings.HasPrefix(p.Name, NamePrefix) {
				t.Errorf("policy %s/%s is not labelled as ours: %v", p.Namespace, p.Name, p.Labels)
			}
		}
	})
	relabel := func(labels map[string]string) *Matrix {
		ns := make([]corev1.Namespace, len(namespaces))
		for i := range namespaces {
			ns[i] = *namespaces[i].DeepCopy()
			if ns[i].Name == "initech-app" {
				for k, v := range labels {
					ns[i].Labels[k] = v
				}
			}
		}
		m, err := Connectivity(ConnectivityInput{Targets: targets, Namespaces: ns, Policies: policies})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	t.Run("tenant-settable labels change nothing", func(t *testing.T) {
		got := relabel(map[string]string{"tenant": "acme", "team": "acme", "app.kubernetes.io/part-of": "acme", "acme.tree": "0"})
		if diff := cmp.Diff(wantScenario, rows(got)); diff != "" {
			t.Errorf("relabelled namespace changed reachability (-want +got):\n%s", diff)
		}
	})
	t.Run("isolation relies on the engine owning tree labels", func(t *testing.T) {
		got := relabel(map[string]string{tenancy.TreeLabel("acme"): "0"})
		idx := map[string]int{}
		for i, e := range got.Endpoints {
			idx[e.Namespace] = i
		}
		if !got.Allowed[idx["initech-app"]][idx["acme-prod"]] {
			t.Fatalf("a forged tree label should open acme to initech-app (that is why the engine must own it):\n%s", got)
		}
	})
}

// Attack: ipBlocks that cover the pod range. An operator-supplied peer overlapping the
// cluster ranges is refused; internet egress always excludes the cluster ranges, even
// when the private-range exclusions are switched off and the pods use public addresses.
func TestAttackIPBlockCoveringPodRange(t *testing.T) {
	tg := Target{Namespace: "acme-prod", Tenant: "acme", Mode: tenancy.IsolationTenant}
	_, err := Generate(tg, Options{
		ClusterCIDRs: []string{"10.244.0.0/16"},
		ControlPlane: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8"}}},
	})
	if !errors.Is(err, ErrInvalidTarget) || !strings.Contains(err.Error(), "options.controlPlane[0].ipBlock.cidr") {
		t.Errorf("overlapping control plane ipBlock: got %v", err)
	}
	if _, err := Generate(tg, Options{InternetEgress: true}); err == nil || !strings.Contains(err.Error(), "options.clusterCIDRs") {
		t.Errorf("internet egress without cluster ranges: got %v", err)
	}

	targets, namespaces := scenario(t)
	opts := scenarioOptions()
	opts.InternetEgress = true
	opts.ExcludedCIDRs = []string{} // operator removed every private exclusion
	opts.ClusterCIDRs = []string{"198.18.0.0/15"}
	got, err := Connectivity(ConnectivityInput{Targets: targets, Namespaces: namespaces, Options: opts, PodCIDR: "198.18.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantScenario, rows(got)); diff != "" {
		t.Errorf("internet egress leaked pod traffic (-want +got):\n%s", diff)
	}
}

func TestEffectiveIsolation(t *testing.T) {
	tenants := append(scenarioTenants(),
		tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "loose"}, Spec: tenancy.TenantSpec{Parent: "acme-data", Policy: tenancy.Policy{NetworkIsolation: tenancy.IsolationNone}}})
	tests := []struct {
		tenant, mode, boundary string
	}{
		{"acme", "tenant", "acme"}, {"acme-web", "tenant", "acme"}, {"acme-data", "strict", ""},
		{"loose", "strict", ""}, {"globex-dev-ml", "tenant", "globex-dev"}, {"initech", "none", ""},
	}
	for _, tc := range tests {
		mode, boundary, err := EffectiveIsolation(tenants, tc.tenant)
		if err != nil {
			t.Fatal(err)
		}
		if string(mode) != tc.mode || boundary != tc.boundary {
			t.Errorf("%s: got %s/%s want %s/%s", tc.tenant, mode, boundary, tc.mode, tc.boundary)
		}
	}
	if _, _, err := EffectiveIsolation(tenants, "nobody"); !errors.Is(err, ErrUnknownTenant) {
		t.Errorf("unknown tenant: %v", err)
	}
}
