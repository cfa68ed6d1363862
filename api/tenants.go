package api

import (
	"context"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

func (s *Server) tenantView(tree *tenancy.Tree, name string, c *call) Tenant {
	t := tree.Tenant(name)
	parent, _ := tree.Parent(name)
	return Tenant{Name: name, DisplayName: t.Spec.DisplayName, Parent: parent, Depth: tree.Depth(name),
		Role: RoleOf(tree, name, c.id), Ready: conditionStatus(t.Status.Conditions, "Ready"),
		Usage: usageOf(t.Spec.Quota, t.Status.Usage), Spaces: t.Status.Spaces, VirtualClusters: t.Status.VirtualClusters,
		Children: tree.Children(name)}
}

// listTenants lists the tenants the caller has a role in, in tree order
// (each parent before its children) when not paginated past the first
// page; the continue token follows that order.
func (s *Server) listTenants(w http.ResponseWriter, r *http.Request, c *call) error {
	limit, cont, err := pageParams(r.URL.Query())
	if err != nil {
		return err
	}
	tree, err := s.loadTree(r.Context(), c)
	if err != nil {
		return err
	}
	var items []Tenant
	order := map[string]string{}
	var walk func(name, path string)
	walk = func(name, path string) {
		path += "/" + name
		if RoleOf(tree, name, c.id) != "" {
			order[name] = path
			items = append(items, s.tenantView(tree, name, c))
		}
		for _, ch := range tree.Children(name) {
			walk(ch, path)
		}
	}
	for _, root := range tree.Roots() {
		walk(root, "")
	}
	page, err := paginate(items, func(t Tenant) string { return order[t.Name] }, limit, cont)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

func (s *Server) getTenant(w http.ResponseWriter, r *http.Request, c *call) error {
	name := r.PathValue("tenant")
	if err := s.require(r.Context(), c, name, tenancy.RoleView, "reading a tenant"); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.tenantView(c.tree, name, c))
	return nil
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request, c *call) error {
	name := r.PathValue("tenant")
	if err := s.require(r.Context(), c, name, tenancy.RoleView, "listing members"); err != nil {
		return err
	}
	ms, err := c.tree.EffectiveMembers(name)
	if err != nil {
		return err
	}
	out := List[Member]{Items: []Member{}}
	for _, m := range ms {
		out.Items = append(out.Items, Member{Kind: m.Kind, Name: m.Name, Role: m.Role, From: m.From})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func validateMember(m SetMember) *Error {
	switch m.Kind {
	case tenancy.MemberUser, tenancy.MemberGroup:
	default:
		return invalid("kind", "must be User or Group, not %q", m.Kind)
	}
	if strings.TrimSpace(m.Name) == "" || len(m.Name) > 253 {
		return invalid("name", "must be 1 to 253 characters")
	}
	if strings.HasPrefix(m.Name, "system:") {
		return invalid("name", "names starting with system: are reserved for Kubernetes")
	}
	if _, ok := rank[m.Role]; !ok {
		return invalid("role", "must be admin, edit or view, not %q", m.Role)
	}
	return nil
}

// updateTenant applies change to the tenant with retries on conflicts.
func (s *Server) updateTenant(ctx context.Context, name string, change func(*tenancy.Tenant) error) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		t := &tenancy.Tenant{}
		if err := s.opts.Client.Get(ctx, client.ObjectKey{Name: name}, t); err != nil {
			return err
		}
		if err := change(t); err != nil {
			return err
		}
		return s.opts.Client.Update(ctx, t)
	})
}

// setMember adds a member to a tenant or changes its role; admins only.
func (s *Server) setMember(w http.ResponseWriter, r *http.Request, c *call) error {
	tenant := r.PathValue("tenant")
	c.action, c.tenant = "member.set", tenant
	var in SetMember
	if err := decode(r, &in); err != nil {
		return err
	}
	c.target = string(in.Kind) + "/" + in.Name
	if err := s.require(r.Context(), c, tenant, tenancy.RoleAdmin, "managing members"); err != nil {
		return err
	}
	if e := validateMember(in); e != nil {
		return e
	}
	err := s.updateTenant(r.Context(), tenant, func(t *tenancy.Tenant) error {
		for i, m := range t.Spec.Members {
			if m.Kind == in.Kind && m.Name == in.Name {
				t.Spec.Members[i].Role = in.Role
				return nil
			}
		}
		t.Spec.Members = append(t.Spec.Members, tenancy.Member{Kind: in.Kind, Name: in.Name, Role: in.Role})
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Member{Kind: in.Kind, Name: in.Name, Role: in.Role, From: tenant})
	return nil
}

// deleteMember removes a direct member of a tenant; admins only. Members
// inherited from an ancestor are removed there.
func (s *Server) deleteMember(w http.ResponseWriter, r *http.Request, c *call) error {
	tenant := r.PathValue("tenant")
	kind, name := tenancy.MemberKind(r.PathValue("kind")), r.PathValue("name")
	c.action, c.tenant, c.target = "member.delete", tenant, string(kind)+"/"+name
	if err := s.require(r.Context(), c, tenant, tenancy.RoleAdmin, "managing members"); err != nil {
		return err
	}
	err := s.updateTenant(r.Context(), tenant, func(t *tenancy.Tenant) error {
		for i, m := range t.Spec.Members {
			if m.Kind == kind && m.Name == name {
				t.Spec.Members = append(t.Spec.Members[:i], t.Spec.Members[i+1:]...)
				return nil
			}
		}
		return notFound("%s %s is not a direct member of %s (an inherited member is removed where it is granted)", kind, name, tenant)
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func dnsLabel(fld, v string) *Error {
	return fromFieldErrors(tenancy.ValidateName(field.NewPath(fld), v), nil)
}
