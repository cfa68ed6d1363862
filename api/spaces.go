package api

import (
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

func spaceView(sp *tenancy.Space) Space {
	return Space{Name: sp.Name, Tenant: sp.Spec.Tenant, Ready: conditionStatus(sp.Status.Conditions, "Ready"),
		Usage: usageOf(sp.Spec.Quota, sp.Status.Usage), Created: sp.CreationTimestamp.UTC()}
}

// listSpaces lists the spaces of the tenants the caller has a role in;
// ?tenant= narrows to one tenant's own spaces.
func (s *Server) listSpaces(w http.ResponseWriter, r *http.Request, c *call) error {
	limit, cont, err := pageParams(r.URL.Query())
	if err != nil {
		return err
	}
	tree, err := s.loadTree(r.Context(), c)
	if err != nil {
		return err
	}
	want := r.URL.Query().Get("tenant")
	var sl tenancy.SpaceList
	if err := s.opts.Client.List(r.Context(), &sl); err != nil {
		return err
	}
	items := []Space{}
	for i := range sl.Items {
		sp := &sl.Items[i]
		if (want == "" || sp.Spec.Tenant == want) && RoleOf(tree, sp.Spec.Tenant, c.id) != "" {
			items = append(items, spaceView(sp))
		}
	}
	page, err := paginate(items, func(v Space) string { return v.Name }, limit, cont)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// space reads a space the caller may see with at least want; like vc, it
// answers a space the caller cannot see as one that does not exist.
func (s *Server) space(r *http.Request, c *call, want tenancy.Role, what string) (*tenancy.Space, error) {
	name := r.PathValue("name")
	c.target = name
	hidden := notFound("space %s not found", name)
	if len(validation.IsDNS1123Subdomain(name)) > 0 {
		return nil, hidden
	}
	sp := &tenancy.Space{}
	if err := s.opts.Client.Get(r.Context(), client.ObjectKey{Name: name}, sp); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, hidden
		}
		return nil, err
	}
	c.tenant = sp.Spec.Tenant
	if err := s.require(r.Context(), c, sp.Spec.Tenant, want, what); err != nil {
		if e := fromError(err); e.Code == http.StatusNotFound {
			return nil, hidden
		}
		return nil, err
	}
	return sp, nil
}

func (s *Server) getSpace(w http.ResponseWriter, r *http.Request, c *call) error {
	sp, err := s.space(r, c, tenancy.RoleView, "reading a space")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, spaceView(sp))
	return nil
}

// createSpace creates a space for a tenant the caller is an admin of.
func (s *Server) createSpace(w http.ResponseWriter, r *http.Request, c *call) error {
	c.action = "space.create"
	var in CreateSpace
	if err := decode(r, &in); err != nil {
		return err
	}
	c.tenant, c.target = in.Tenant, in.Name
	if e := dnsLabel("tenant", in.Tenant); e != nil {
		return e
	}
	if err := s.require(r.Context(), c, in.Tenant, tenancy.RoleAdmin, "creating a space"); err != nil {
		return err
	}
	if e := dnsLabel("name", in.Name); e != nil {
		return e
	}
	sp := &tenancy.Space{ObjectMeta: metav1.ObjectMeta{Name: in.Name,
		Annotations: map[string]string{AnnotationCreatedBy: c.id.Name}}, Spec: tenancy.SpaceSpec{Tenant: in.Tenant}}
	if err := s.opts.Client.Create(r.Context(), sp); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, spaceView(sp))
	return nil
}

// deleteSpace deletes a space; the engine removes its namespace.
func (s *Server) deleteSpace(w http.ResponseWriter, r *http.Request, c *call) error {
	c.action = "space.delete"
	sp, err := s.space(r, c, tenancy.RoleAdmin, "deleting a space")
	if err != nil {
		return err
	}
	if err := s.opts.Client.Delete(r.Context(), sp); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}
