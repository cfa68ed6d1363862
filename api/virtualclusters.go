package api

import (
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

// AnnotationCreatedBy records who created an object through the API.
const AnnotationCreatedBy = "api.vclusterkit.io/created-by"

// listVCs lists the virtual clusters of the tenants the caller has a role
// in; ?tenant= narrows to one tenant.
func (s *Server) listVCs(w http.ResponseWriter, r *http.Request, c *call) error {
	limit, cont, err := pageParams(r.URL.Query())
	if err != nil {
		return err
	}
	tree, err := s.loadTree(r.Context(), c)
	if err != nil {
		return err
	}
	want := r.URL.Query().Get("tenant")
	var vl vcluster.VirtualClusterList
	if err := s.opts.Client.List(r.Context(), &vl, client.InNamespace(s.opts.VirtualClusterNamespace)); err != nil {
		return err
	}
	items := []VirtualCluster{}
	for i := range vl.Items {
		vc := &vl.Items[i]
		if (want == "" || vc.Spec.Tenant == want) && RoleOf(tree, vc.Spec.Tenant, c.id) != "" {
			items = append(items, vcView(vc))
		}
	}
	page, err := paginate(items, func(v VirtualCluster) string { return v.Name }, limit, cont)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// vc reads the virtual cluster of the path if the caller has want in its
// tenant; one the caller cannot see is not found, in the same words as one
// that does not exist (or cannot, such as a name with a slash), so that
// the answer does not tell which.
func (s *Server) vc(r *http.Request, c *call, want tenancy.Role, what string) (*vcluster.VirtualCluster, error) {
	name := r.PathValue("name")
	c.target = name
	hidden := notFound("virtual cluster %s not found", name)
	if len(validation.IsDNS1123Subdomain(name)) > 0 {
		return nil, hidden
	}
	vc, err := s.getVirtualCluster(r.Context(), name)
	if apierrors.IsNotFound(err) {
		return nil, hidden
	}
	if err != nil {
		return nil, err
	}
	c.tenant = vc.Spec.Tenant
	if err := s.require(r.Context(), c, vc.Spec.Tenant, want, what); err != nil {
		if e := fromError(err); e.Code == http.StatusNotFound {
			return nil, hidden
		}
		return nil, err
	}
	return vc, nil
}

func (s *Server) getVC(w http.ResponseWriter, r *http.Request, c *call) error {
	vc, err := s.vc(r, c, tenancy.RoleView, "reading a virtual cluster")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, vcView(vc))
	return nil
}

// createVC creates a virtual cluster for a tenant the caller is an admin
// of; its host namespace is <tenant>-vc-<name>.
func (s *Server) createVC(w http.ResponseWriter, r *http.Request, c *call) error {
	c.action = "virtualcluster.create"
	var in CreateVirtualCluster
	if err := decode(r, &in); err != nil {
		return err
	}
	c.tenant, c.target = in.Tenant, in.Name
	if e := dnsLabel("tenant", in.Tenant); e != nil {
		return e
	}
	vc := &vcluster.VirtualCluster{
		ObjectMeta: metav1.ObjectMeta{Name: in.Name, Namespace: s.opts.VirtualClusterNamespace,
			Annotations: map[string]string{AnnotationCreatedBy: c.id.Name}},
		Spec: vcluster.VirtualClusterSpec{Tenant: in.Tenant, HostNamespace: in.Tenant + "-vc-" + in.Name, KubernetesVersion: in.KubernetesVersion},
	}
	if in.SleepAfter != "" {
		d, err := time.ParseDuration(in.SleepAfter)
		if err != nil || d < time.Minute {
			return invalid("sleepAfter", "must be a duration of at least 1m (\"30m\", \"2h\"), not %q", in.SleepAfter)
		}
		vc.Spec.Sleep = &vcluster.SleepSpec{AfterInactivity: &metav1.Duration{Duration: d}}
	}
	if e := fromFieldErrors(vcluster.Validate(vc), map[string]string{
		"metadata.name": "name", "spec.tenant": "tenant", "spec.kubernetesVersion": "kubernetesVersion", "spec.hostNamespace": "name",
	}); e != nil {
		return e
	}
	if len(vc.Spec.HostNamespace) > 63 {
		return invalid("name", "tenant and name together are too long: the host namespace %s-vc-%s would have more than 63 characters", in.Tenant, in.Name)
	}
	if err := s.require(r.Context(), c, in.Tenant, tenancy.RoleAdmin, "creating a virtual cluster"); err != nil {
		return err
	}
	if err := s.opts.Client.Create(r.Context(), vc); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, vcView(vc))
	return nil
}

// deleteVC deletes a virtual cluster; the engine tears it down.
func (s *Server) deleteVC(w http.ResponseWriter, r *http.Request, c *call) error {
	c.action = "virtualcluster.delete"
	vc, err := s.vc(r, c, tenancy.RoleAdmin, "deleting a virtual cluster")
	if err != nil {
		return err
	}
	if err := s.opts.Client.Delete(r.Context(), vc); err != nil {
		return err
	}
	vc.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	writeJSON(w, http.StatusAccepted, vcView(vc))
	return nil
}

// sleepVC pauses the control plane (Spec.Sleep.Paused); edit or admin.
func (s *Server) sleepVC(w http.ResponseWriter, r *http.Request, c *call) error {
	c.action = "virtualcluster.sleep"
	return s.setPaused(w, r, c, true)
}

// wakeVC clears Spec.Sleep.Paused and wakes it from inactivity sleep.
func (s *Server) wakeVC(w http.ResponseWriter, r *http.Request, c *call) error {
	c.action = "virtualcluster.wake"
	return s.setPaused(w, r, c, false)
}

func (s *Server) setPaused(w http.ResponseWriter, r *http.Request, c *call, paused bool) error {
	vc, err := s.vc(r, c, tenancy.RoleEdit, "sleeping or waking a virtual cluster")
	if err != nil {
		return err
	}
	patch := client.MergeFrom(vc.DeepCopy())
	if vc.Spec.Sleep == nil {
		vc.Spec.Sleep = &vcluster.SleepSpec{}
	}
	vc.Spec.Sleep.Paused = paused
	if !paused {
		delete(vc.Annotations, vcluster.AnnotationAsleepSince)
	}
	if err := s.opts.Client.Patch(r.Context(), vc, patch); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, vcView(vc))
	return nil
}
