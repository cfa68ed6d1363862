package api

import (
	"fmt"
	"net/http"
	"sort"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/netpol"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

// reachability evaluates the NetworkPolicies in force between the spaces
// and virtual-cluster namespaces of the tenants the caller can see.
func (s *Server) reachability(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	tree, err := s.loadTree(ctx, c)
	if err != nil {
		return err
	}
	var tl tenancy.TenantList
	var sl tenancy.SpaceList
	var vl vcluster.VirtualClusterList
	var nsl corev1.NamespaceList
	var npl networkingv1.NetworkPolicyList
	for _, l := range []client.ObjectList{&tl, &sl, &nsl, &npl} {
		if err := s.opts.Client.List(ctx, l); err != nil {
			return err
		}
	}
	if err := s.opts.Client.List(ctx, &vl, client.InNamespace(s.opts.VirtualClusterNamespace)); err != nil {
		return err
	}
	var tenants []tenancy.Tenant
	for _, t := range tl.Items {
		if tree.Has(t.Name) {
			tenants = append(tenants, t)
		}
	}
	existing := map[string]corev1.Namespace{}
	for _, ns := range nsl.Items {
		existing[ns.Name] = ns
	}
	type target struct{ tenant, ns, vc string }
	var targets []target
	for _, sp := range sl.Items {
		if RoleOf(tree, sp.Spec.Tenant, c.id) != "" {
			targets = append(targets, target{sp.Spec.Tenant, sp.Name, ""})
		}
	}
	for _, vc := range vl.Items {
		if RoleOf(tree, vc.Spec.Tenant, c.id) != "" {
			targets = append(targets, target{vc.Spec.Tenant, vc.EffectiveHostNamespace(), vc.Name})
		}
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].ns < targets[j].ns })
	in := netpol.ConnectivityInput{Policies: append([]networkingv1.NetworkPolicy{}, npl.Items...)}
	out := Reachability{Names: []string{}, Allowed: [][]bool{}}
	for _, t := range targets {
		ns, ok := existing[t.ns]
		if !ok {
			out.Missing = append(out.Missing, t.ns)
			continue
		}
		tg, err := netpol.TargetFor(tenants, t.tenant, t.ns, t.vc)
		if err != nil {
			return fmt.Errorf("isolation of %s: %w", t.ns, err)
		}
		in.Targets = append(in.Targets, tg)
		in.Namespaces = append(in.Namespaces, ns)
	}
	if len(in.Namespaces) > 0 {
		m, err := netpol.Connectivity(in)
		if err != nil {
			return fmt.Errorf("evaluating reachability: %w", err)
		}
		out.Allowed = m.Allowed
		for _, tg := range in.Targets {
			out.Names = append(out.Names, tg.Namespace)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
