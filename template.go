package vclusterkit

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/lifecycle"
	"github.com/vclusterkit/vclusterkit/tenancy"
)

// Space templates: Space.Spec.Template names a ConfigMap in
// Options.TemplateNamespace whose data values are YAML manifests (several
// documents each) of namespaced objects — a default Role, a ConfigMap of
// settings, a NetworkPolicy of the tenant's own — applied into the space's
// namespace when it is created and kept as the template says.
const (
	// DefaultTemplateNamespace holds space templates unless
	// Options.TemplateNamespace says otherwise.
	DefaultTemplateNamespace = "vclusterkit-system"
	// LabelTemplate marks the objects a template put in a namespace.
	LabelTemplate = "tenancy.vclusterkit.io/template"
)

// templateObjects decodes the template's manifests, sorted by key, and
// checks each object: namespaced kinds only, no other namespace, a name.
func (e *Engine) templateObjects(ctx context.Context, name, namespace string) ([]*unstructured.Unstructured, error) {
	cm := &corev1.ConfigMap{}
	ns := e.opts.TemplateNamespace
	if ns == "" {
		ns = DefaultTemplateNamespace
	}
	if err := e.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, cm); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, lifecycle.Wait(0, "spec.template: ConfigMap %s/%s not found", ns, name)
		}
		return nil, err
	}
	keys := make([]string, 0, len(cm.Data))
	for k := range cm.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []*unstructured.Unstructured
	for _, k := range keys {
		r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(cm.Data[k])))
		for i := 0; ; i++ {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, lifecycle.Permanent(fmt.Errorf("spec.template: %s/%s key %s document %d: %w", ns, name, k, i, err))
			}
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			u := &unstructured.Unstructured{}
			if err := utilyaml.Unmarshal(doc, &u.Object); err != nil {
				return nil, lifecycle.Permanent(fmt.Errorf("spec.template: %s/%s key %s document %d: %w", ns, name, k, i, err))
			}
			if len(u.Object) == 0 {
				continue
			}
			where := fmt.Sprintf("spec.template: %s/%s key %s document %d (%s %s)", ns, name, k, i, u.GetKind(), u.GetName())
			if u.GetName() == "" || u.GetKind() == "" || u.GetAPIVersion() == "" {
				return nil, lifecycle.Permanent(fmt.Errorf("%s: apiVersion, kind and metadata.name are required", where))
			}
			if u.GetNamespace() != "" && u.GetNamespace() != namespace {
				return nil, lifecycle.Permanent(fmt.Errorf("%s: names namespace %q; template objects go into the space's own namespace", where, u.GetNamespace()))
			}
			mapping, err := e.client.RESTMapper().RESTMapping(u.GroupVersionKind().GroupKind(), u.GroupVersionKind().Version)
			if err != nil {
				return nil, lifecycle.Permanent(fmt.Errorf("%s: %w", where, err))
			}
			if mapping.Scope.Name() != "namespace" {
				return nil, lifecycle.Permanent(fmt.Errorf("%s: cluster-scoped kinds cannot be part of a space template", where))
			}
			u.SetNamespace(namespace)
			labels := u.GetLabels()
			if labels == nil {
				labels = map[string]string{}
			}
			labels[LabelManagedBy] = managedBy
			labels[LabelTemplate] = name
			u.SetLabels(labels)
			out = append(out, u)
		}
	}
	return out, nil
}

// spaceTemplate applies the objects of the space's template with
// server-side apply (a hand edit of a field the template sets is put
// back). Objects dropped from the template are left in place: the engine
// cannot tell them from the tenant's own without a record, and deleting a
// tenant's object is worse than keeping one.
func (e *Engine) spaceTemplate(ctx context.Context, sp *tenancy.Space) error {
	if sp.Spec.Template == "" {
		return nil
	}
	objs, err := e.templateObjects(ctx, sp.Spec.Template, sp.Name)
	if err != nil {
		return err
	}
	for _, u := range objs {
		u.SetResourceVersion("")
		if err := e.client.Patch(ctx, u, client.Apply, client.FieldOwner(fieldOwner), client.ForceOwnership); err != nil { //nolint:staticcheck // SSA of unstructured objects
			return fmt.Errorf("spec.template: applying %s %s: %w", u.GetKind(), u.GetName(), err)
		}
	}
	return nil
}
