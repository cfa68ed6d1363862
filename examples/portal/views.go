package main

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/netpol"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

// snapshot is what one page reads from the host.
type snapshot struct {
	tenants []tenancy.Tenant
	spaces  []tenancy.Space
	vcs     []vcluster.VirtualCluster
	tree    *tenancy.Tree
	// invalid are tenants and spaces left out of the tree ("tenant/x",
	// "space/y") with the reason; one bad object does not take the portal
	// down, the engine skips them alike.
	invalid map[string]string
}

func (p *Portal) load(ctx context.Context) (*snapshot, error) {
	var tl tenancy.TenantList
	var sl tenancy.SpaceList
	var vl vcluster.VirtualClusterList
	if err := p.opts.Client.List(ctx, &tl); err != nil {
		return nil, fmt.Errorf("listing tenants: %w", err)
	}
	if err := p.opts.Client.List(ctx, &sl); err != nil {
		return nil, fmt.Errorf("listing spaces: %w", err)
	}
	if err := p.opts.Client.List(ctx, &vl); err != nil {
		return nil, fmt.Errorf("listing virtual clusters: %w", err)
	}
	pt, err := tenancy.NewPartialTree(tl.Items, sl.Items, tenancy.TreeOptions{})
	if err != nil {
		return nil, fmt.Errorf("the tenant tree: %w", err)
	}
	s := &snapshot{tenants: pt.Tenants, spaces: pt.Spaces, vcs: vl.Items, tree: pt.Tree, invalid: map[string]string{}}
	for key, errs := range pt.Invalid {
		msgs := make([]string, len(errs))
		for i, fe := range errs {
			msgs[i] = fe.Error()
		}
		s.invalid[key] = strings.Join(msgs, "; ")
	}
	return s, nil
}

// tenantView is one node of the tree page.
type tenantView struct {
	Name, DisplayName string
	Ready             string
	Members           []tenancy.Member
	Quota, Usage      corev1.ResourceList
	Spaces            []spaceView
	VirtualClusters   []vcView
	Children          []tenantView
	Role              tenancy.Role // the signed-in user's effective role
	CanCreate         bool
}

type spaceView struct {
	Name  string
	Quota corev1.ResourceList
	Usage corev1.ResourceList
	Ready string
}

type vcView struct {
	Namespace, Name, Tenant string
	Phase                   vcluster.Phase
	Endpoint, Provisioner   string
	HostNamespace           string
	CanDownload             bool
}

func conditionStatus(conds []metav1.Condition, t string) string {
	if c := meta.FindStatusCondition(conds, t); c != nil {
		if c.Message != "" {
			return string(c.Status) + ": " + c.Message
		}
		return string(c.Status)
	}
	return "Unknown"
}

func (p *Portal) index(w http.ResponseWriter, r *http.Request) {
	id := userFrom(r)
	s, err := p.load(r.Context())
	if err != nil {
		p.fail(w, r, http.StatusInternalServerError, err.Error(), err)
		return
	}
	byTenant := map[string][]vcView{}
	for _, vc := range s.vcs {
		_, asUser := roleIn(s.tree, vc.Spec.Tenant, id)
		byTenant[vc.Spec.Tenant] = append(byTenant[vc.Spec.Tenant], vcView{
			Namespace: vc.Namespace, Name: vc.Name, Tenant: vc.Spec.Tenant, Phase: vc.Status.Phase,
			Endpoint: vc.Status.Endpoint, Provisioner: vc.EffectiveProvisioner(), HostNamespace: vc.EffectiveHostNamespace(),
			CanDownload: asUser,
		})
	}
	var build func(name string) tenantView
	build = func(name string) tenantView {
		t := s.tree.Tenant(name)
		role, _ := roleIn(s.tree, name, id)
		v := tenantView{Name: name, DisplayName: t.Spec.DisplayName, Members: t.Spec.Members, Quota: t.Spec.Quota,
			Usage: t.Status.Usage, Ready: conditionStatus(t.Status.Conditions, "Ready"), Role: role,
			CanCreate: role == tenancy.RoleAdmin, VirtualClusters: byTenant[name]}
		for _, sn := range s.tree.Spaces(name) {
			sp := s.tree.Space(sn)
			v.Spaces = append(v.Spaces, spaceView{Name: sn, Quota: sp.Spec.Quota, Usage: sp.Status.Usage, Ready: conditionStatus(sp.Status.Conditions, "Ready")})
		}
		for _, c := range s.tree.Children(name) {
			v.Children = append(v.Children, build(c))
		}
		return v
	}
	var roots []tenantView
	for _, root := range s.tree.Roots() {
		roots = append(roots, build(root))
	}
	var invalid []string
	for k, why := range s.invalid {
		invalid = append(invalid, k+": "+why)
	}
	sort.Strings(invalid)
	p.render(w, r, "index.html", map[string]any{"User": id, "Tenants": roots, "Namespace": p.opts.VirtualClusterNamespace, "Invalid": invalid})
}

// reachability renders netpol.Connectivity over every space and every
// virtual cluster's host namespace that exists.
func (p *Portal) reachability(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s, err := p.load(ctx)
	if err != nil {
		p.fail(w, r, http.StatusInternalServerError, err.Error(), err)
		return
	}
	var nsl corev1.NamespaceList
	if err := p.opts.Client.List(ctx, &nsl); err != nil {
		p.fail(w, r, http.StatusInternalServerError, "listing namespaces failed", err)
		return
	}
	existing := map[string]corev1.Namespace{}
	for _, ns := range nsl.Items {
		existing[ns.Name] = ns
	}
	type target struct{ tenant, ns, vc string }
	var targets []target
	for _, sp := range s.spaces {
		targets = append(targets, target{sp.Spec.Tenant, sp.Name, ""})
	}
	for _, vc := range s.vcs {
		if s.tree.Has(vc.Spec.Tenant) {
			targets = append(targets, target{vc.Spec.Tenant, vc.EffectiveHostNamespace(), vc.Name})
		}
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].ns < targets[j].ns })
	in := netpol.ConnectivityInput{}
	var missing []string
	for _, t := range targets {
		ns, ok := existing[t.ns]
		if !ok {
			missing = append(missing, t.ns)
			continue
		}
		tg, err := netpol.TargetFor(s.tenants, t.tenant, t.ns, t.vc)
		if err != nil {
			p.fail(w, r, http.StatusInternalServerError, fmt.Sprintf("isolation of %s: %v", t.ns, err), err)
			return
		}
		in.Targets = append(in.Targets, tg)
		in.Namespaces = append(in.Namespaces, ns)
	}
	source := "in force on the host"
	if r.URL.Query().Get("policies") == "generated" {
		source = "generated by the engine for each tenant's isolation mode"
	} else {
		var npl networkingv1.NetworkPolicyList
		if err := p.opts.Client.List(ctx, &npl); err != nil {
			p.fail(w, r, http.StatusInternalServerError, "listing network policies failed", err)
			return
		}
		in.Policies = append([]networkingv1.NetworkPolicy{}, npl.Items...) // non-nil: evaluate these
	}
	data := map[string]any{"User": userFrom(r), "Source": source, "Missing": strings.Join(missing, ", ")}
	if len(in.Namespaces) > 0 {
		m, err := netpol.Connectivity(in)
		if err != nil {
			p.fail(w, r, http.StatusInternalServerError, "evaluating reachability failed: "+err.Error(), err)
			return
		}
		data["Names"] = m.Names
		data["Allowed"] = m.Allowed
	}
	p.render(w, r, "reachability.html", data)
}

// formatResources prints a ResourceList sorted by name: "cpu=2, pods=10".
func formatResources(l corev1.ResourceList) string {
	if len(l) == 0 {
		return "—"
	}
	var out []string
	for k, v := range l {
		out = append(out, string(k)+"="+v.String())
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}
