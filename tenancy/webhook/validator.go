package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/webhookkit"
	"github.com/vclusterkit/vclusterkit/tenancy"
)

// Path is where an embedder that runs its own mux may serve the Validator.
// (quota/admission.Serve serves any handler at its own fixed path; use the
// URL it returns.)
const Path = "/validate-tenancy"

// ErrNoSource is returned by Review when Validator.Source is nil.
var ErrNoSource = errors.New("webhook: Validator.Source is required")

// Source lists the current tenants and spaces. The Validator calls it once
// per request and only reads what it returns.
type Source interface {
	Snapshot(ctx context.Context) ([]tenancy.Tenant, []tenancy.Space, error)
}

// SourceFunc adapts a function to Source.
type SourceFunc func(ctx context.Context) ([]tenancy.Tenant, []tenancy.Space, error)

// Snapshot implements Source.
func (f SourceFunc) Snapshot(ctx context.Context) ([]tenancy.Tenant, []tenancy.Space, error) {
	return f(ctx)
}

// ClientSource lists Tenants and Spaces through r, typically the cached
// client of a controller-runtime manager whose scheme has the tenancy
// types. From a cache, the lists are not deep-copied (the Validator never
// writes to them), so a decision costs one pass over the objects.
func ClientSource(r client.Reader) Source {
	return SourceFunc(func(ctx context.Context) ([]tenancy.Tenant, []tenancy.Space, error) {
		var tl tenancy.TenantList
		if err := r.List(ctx, &tl, client.UnsafeDisableDeepCopy); err != nil {
			return nil, nil, fmt.Errorf("listing tenants: %w", err)
		}
		var sl tenancy.SpaceList
		if err := r.List(ctx, &sl, client.UnsafeDisableDeepCopy); err != nil {
			return nil, nil, fmt.Errorf("listing spaces: %w", err)
		}
		return tl.Items, sl.Items, nil
	})
}

// StoreSource lists tenants and spaces from a tenancy store.
func StoreSource(r tenancy.TreeReader) Source {
	return SourceFunc(func(ctx context.Context) ([]tenancy.Tenant, []tenancy.Space, error) {
		tl, err := r.ListTenants(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("listing tenants: %w", err)
		}
		sl, err := r.ListSpaces(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("listing spaces: %w", err)
		}
		return tl.Items, sl.Items, nil
	})
}

// Validator is a validating admission webhook (an http.Handler for
// admission.k8s.io/v1 AdmissionReview) that refuses creates and updates of
// Tenants and Spaces that would break the tree rules of tenancy.Validator:
// a missing parent or tenant, a cycle, the depth limit, a policy looser
// than an ancestor's, a quota above an ancestor's or the tenant's, a
// change that would leave a descendant or space invalid, and, for a new
// Space, a MaxSpaces limit of its tenant or an ancestor. See the package
// documentation for what is allowed through and why.
//
// The zero value is not usable: Source is required. A Validator is safe
// for concurrent use.
type Validator struct {
	// Source lists the current tenants and spaces; required.
	Source Source
	// MaxDepth is the number of levels a tree may have; 0 means
	// tenancy.DefaultMaxDepth. Use the engine's value.
	MaxDepth int
}

func (v *Validator) rules() tenancy.Validator { return tenancy.Validator{MaxDepth: v.MaxDepth} }

func (v *Validator) maxDepth() int {
	if v.MaxDepth > 0 {
		return v.MaxDepth
	}
	return tenancy.DefaultMaxDepth
}

// ServeHTTP implements http.Handler. A request the Validator cannot decide
// because Source failed is answered with HTTP 500, so that the API server
// applies the webhook's failurePolicy to it as to an unreachable webhook.
func (v *Validator) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	req := webhookkit.ReadRequest(rw, r)
	if req == nil {
		return
	}
	resp, err := v.Review(r.Context(), req)
	if err != nil {
		ctrl.LoggerFrom(r.Context()).Error(err, "tenancy webhook cannot decide", "kind", req.Kind.Kind, "name", req.Name)
		http.Error(rw, err.Error(), http.StatusInternalServerError)
		return
	}
	webhookkit.WriteResponse(rw, req, resp)
}

// Review decides one admission request. CREATE and UPDATE of tenants and
// spaces (tenancy.vclusterkit.io, no subresource) are decided by
// CheckTenant and CheckSpace against a snapshot from Source, dry runs
// exactly like other requests; everything else (DELETE, status, other
// kinds) is allowed untouched. A refusal is a 422 Invalid status whose
// message and causes name each offending field, as apierrors.NewInvalid
// words them. An object that does not decode is refused with 400. The
// error is non-nil only when Source fails or is missing: then nothing was
// decided.
func (v *Validator) Review(ctx context.Context, req *admissionv1.AdmissionRequest) (*admissionv1.AdmissionResponse, error) {
	if req.Kind.Group != tenancy.Group || req.SubResource != "" {
		return allow(), nil
	}
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return allow(), nil
	}
	var (
		gk     schema.GroupKind
		decide func(tenants []tenancy.Tenant, spaces []tenancy.Space) error
	)
	switch req.Kind.Kind {
	case tenancy.KindTenant:
		gk = tenancy.GroupVersion.WithKind(tenancy.KindTenant).GroupKind()
		t, old, err := decodePair[tenancy.Tenant](req)
		if err != nil {
			return deny(http.StatusBadRequest, err.Error()), nil
		}
		if old != nil && equality.Semantic.DeepEqual(old.Spec, t.Spec) {
			return allow(), nil // metadata only: no need to list anything
		}
		decide = func(tenants []tenancy.Tenant, spaces []tenancy.Space) error {
			return v.CheckTenant(tenants, spaces, old, t)
		}
	case tenancy.KindSpace:
		gk = tenancy.GroupVersion.WithKind(tenancy.KindSpace).GroupKind()
		s, old, err := decodePair[tenancy.Space](req)
		if err != nil {
			return deny(http.StatusBadRequest, err.Error()), nil
		}
		if old != nil && equality.Semantic.DeepEqual(old.Spec, s.Spec) {
			return allow(), nil
		}
		decide = func(tenants []tenancy.Tenant, spaces []tenancy.Space) error {
			return v.CheckSpace(tenants, spaces, old, s)
		}
	default:
		return allow(), nil
	}
	tenants, spaces, err := v.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	err = decide(tenants, spaces)
	var inv *tenancy.InvalidError
	switch {
	case err == nil:
		return allow(), nil
	case errors.As(err, &inv):
		ctrl.LoggerFrom(ctx).V(1).Info("refused", "kind", req.Kind.Kind, "name", req.Name, "dryRun", req.DryRun != nil && *req.DryRun, "reason", err.Error())
		name := inv.Name // the object's; req.Name is empty for a generateName create
		if name == "" {
			name = req.Name
		}
		st := apierrors.NewInvalid(gk, name, inv.Errs).Status()
		return &admissionv1.AdmissionResponse{Allowed: false, Result: &st}, nil
	default:
		// CheckTenant and CheckSpace read only the snapshot: no other error
		// is expected, but never allow what was not decided.
		return nil, err
	}
}

func (v *Validator) snapshot(ctx context.Context) ([]tenancy.Tenant, []tenancy.Space, error) {
	if v.Source == nil {
		return nil, nil, ErrNoSource
	}
	tenants, spaces, err := v.Source.Snapshot(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("webhook: %w", err)
	}
	return tenants, spaces, nil
}

// decodePair decodes the request's object and, for an update, its old
// object.
func decodePair[T any](req *admissionv1.AdmissionRequest) (obj, old *T, err error) {
	obj = new(T)
	if len(req.Object.Raw) == 0 {
		return nil, nil, fmt.Errorf("the request carries no %s", req.Kind.Kind)
	}
	if err := json.Unmarshal(req.Object.Raw, obj); err != nil {
		return nil, nil, fmt.Errorf("cannot decode the %s: %w", req.Kind.Kind, err)
	}
	if req.Operation == admissionv1.Update {
		old = new(T)
		if len(req.OldObject.Raw) == 0 {
			return nil, nil, fmt.Errorf("the update carries no old %s", req.Kind.Kind)
		}
		if err := json.Unmarshal(req.OldObject.Raw, old); err != nil {
			return nil, nil, fmt.Errorf("cannot decode the old %s: %w", req.Kind.Kind, err)
		}
	}
	return obj, old, nil
}

// CheckTenant decides the write of t against a snapshot of the current
// tenants and spaces: a create when old is nil, else an update from old
// (the API server's copy, which replaces the snapshot's). It returns nil,
// or a *tenancy.InvalidError whose field paths are relative to t
// (spec.quota[cpu], spec.policy.podSecurity, spec.parent) and whose
// details name the ancestor or descendant concerned, as
// tenancy.Validator.ValidateTenantCreate and ValidateTenantUpdate report
// them.
//
// An update that leaves the spec as it is (metadata, finalizers, labels)
// is always allowed, and an update is refused only for errors the tenant
// did not already have before it: see the package documentation.
func (v *Validator) CheckTenant(tenants []tenancy.Tenant, spaces []tenancy.Space, old, t *tenancy.Tenant) error {
	rules := v.rules()
	if old == nil {
		vw := newView(tenants, spaces, nil, nil, t.Name, "")
		return rules.ValidateTenantCreate(vw, t)
	}
	if equality.Semantic.DeepEqual(old.Spec, t.Spec) && old.Name == t.Name {
		return nil
	}
	vw := newView(tenants, spaces, old, nil, old.Name, "")
	err := rules.ValidateTenantUpdate(vw, old, t)
	if err == nil {
		return nil
	}
	// What the tenant and its subtree already got wrong before this write:
	// the verdict on writing old over itself, with the quota marked as
	// changed so that the descendants and spaces are checked too (the
	// marker is never validated: only t is).
	asIs := old.DeepCopy()
	if asIs.Spec.Quota == nil {
		asIs.Spec.Quota = corev1.ResourceList{}
	}
	asIs.Spec.Quota[ratchetMarker] = resource.Quantity{}
	return ratchet(err, rules.ValidateTenantUpdate(vw, asIs, old))
}

// ratchetMarker is a resource name no tenant uses; see CheckTenant.
const ratchetMarker corev1.ResourceName = "webhook.tenancy.vclusterkit.io/unchanged"

// CheckSpace decides the write of s like CheckTenant. On top of
// tenancy.Validator.ValidateSpaceCreate, a new space is refused when its
// tenant or an ancestor sets Policy.MaxSpaces and its subtree already has
// that many spaces (the error is on spec.tenant and names that tenant).
func (v *Validator) CheckSpace(tenants []tenancy.Tenant, spaces []tenancy.Space, old, s *tenancy.Space) error {
	rules := v.rules()
	if old == nil {
		vw := newView(tenants, spaces, nil, nil, "", s.Name)
		err := rules.ValidateSpaceCreate(vw, s)
		var errs field.ErrorList
		var inv *tenancy.InvalidError
		switch {
		case errors.As(err, &inv):
			errs = inv.Errs
		case err != nil:
			return err
		}
		if vw.tenants[s.Spec.Tenant] != nil {
			errs = append(errs, vw.checkMaxSpaces(field.NewPath("spec", "tenant"), s, v.maxDepth())...)
		}
		return tenancy.NewInvalidError(tenancy.KindSpace, s.Name, errs)
	}
	if equality.Semantic.DeepEqual(old.Spec, s.Spec) && old.Name == s.Name {
		return nil
	}
	vw := newView(tenants, spaces, nil, old, "", old.Name)
	err := rules.ValidateSpaceUpdate(vw, old, s)
	if err == nil {
		return nil
	}
	return ratchet(err, rules.ValidateSpaceUpdate(vw, old, old))
}

// ratchet drops from err the field errors that before (the verdict on the
// old object as it stands) already had, word for word: an update is not
// refused for what it did not make worse.
func ratchet(err, before error) error {
	var inv, old *tenancy.InvalidError
	if !errors.As(err, &inv) || !errors.As(before, &old) {
		return err
	}
	had := make(map[string]bool, len(old.Errs))
	for _, e := range old.Errs {
		had[ratchetKey(e)] = true
	}
	var kept field.ErrorList
	for _, e := range inv.Errs {
		if !had[ratchetKey(e)] {
			kept = append(kept, e)
		}
	}
	return tenancy.NewInvalidError(inv.Kind, inv.Name, kept)
}

// ratchetKey identifies an error across two verdicts. tenancy.Validator
// reports a descendant or space that a write would make invalid as a
// Forbidden error on the field of the write that caused it (spec.parent,
// spec.policy or spec.quota, never deeper), naming the descendant, its
// field and the limit in the detail; the same problem found through
// another field is the same problem. Every other error is keyed whole.
func ratchetKey(e *field.Error) string {
	if e.Type == field.ErrorTypeForbidden {
		switch e.Field {
		case "spec.parent", "spec.policy", "spec.quota":
			return "subtree\x00" + e.Detail
		}
	}
	return e.Error()
}

func allow() *admissionv1.AdmissionResponse { return &admissionv1.AdmissionResponse{Allowed: true} }

func deny(code int32, msg string) *admissionv1.AdmissionResponse {
	return &admissionv1.AdmissionResponse{Allowed: false, Result: &metav1.Status{
		Status: metav1.StatusFailure, Code: code, Message: msg, Reason: metav1.StatusReasonBadRequest,
	}}
}
