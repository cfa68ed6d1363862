// Package spacetemplate applies a space's template: Space.Spec.Template
// names a ConfigMap in the template namespace whose data values are YAML
// manifests (several documents each) of namespaced objects — a default
// Role, a ConfigMap of settings, a NetworkPolicy of the tenant's own —
// applied into the space's namespace and kept as the template says; objects
// dropped from the template are pruned.
package spacetemplate

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
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/hostns"
	"github.com/vclusterkit/vclusterkit/internal/ssa"
	"github.com/vclusterkit/vclusterkit/lifecycle"
	"github.com/vclusterkit/vclusterkit/tenancy"
)

// DefaultNamespace holds space templates unless Applier.Namespace says
// otherwise.
const DefaultNamespace = "vclusterkit-system"

// Applier applies space templates. Client is required.
type Applier struct {
	// Client reads templates and writes the space's namespace.
	Client client.Client
	// Namespace holds the template ConfigMaps; empty means DefaultNamespace.
	Namespace string
}

// templateObjects decodes the template's manifests, sorted by key, and
// checks each object: namespaced kinds only, no other namespace, a name.
func (a *Applier) templateObjects(ctx context.Context, name, namespace string) ([]*unstructured.Unstructured, error) {
	cm := &corev1.ConfigMap{}
	ns := a.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	if err := a.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, cm); err != nil {
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
			mapping, err := a.Client.RESTMapper().RESTMapping(u.GroupVersionKind().GroupKind(), u.GroupVersionKind().Version)
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
			labels[hostns.LabelManagedBy] = hostns.ManagedBy
			labels[tenancy.LabelTemplate] = name
			u.SetLabels(labels)
			out = append(out, u)
		}
	}
	return out, nil
}

// Apply applies the objects of the space's template with
// server-side apply (a hand edit of a field the template sets is put
// back), then prunes what an earlier version of the template (or an
// earlier template) put there and the current one no longer has: objects
// of the recorded kinds (tenancy.AnnotationTemplateKinds) that carry the engine's
// managed-by and template labels. An object the tenant took over by
// removing those labels is left alone; one the tenant labelled as the
// template's is the tenant's own loss, in its own namespace.
func (a *Applier) Apply(ctx context.Context, sp *tenancy.Space) error {
	var objs []*unstructured.Unstructured
	if sp.Spec.Template != "" {
		var err error
		if objs, err = a.templateObjects(ctx, sp.Spec.Template, sp.Name); err != nil {
			return err
		}
	}
	keep := map[string]bool{}
	kinds := map[schema.GroupVersionKind]bool{}
	for _, u := range objs {
		if err := ssa.Apply(ctx, a.Client, u); err != nil {
			return fmt.Errorf("spec.template: applying %s %s: %w", u.GetKind(), u.GetName(), err)
		}
		keep[u.GroupVersionKind().GroupKind().String()+"/"+u.GetName()] = true
		kinds[u.GroupVersionKind()] = true
	}
	recorded := parseKinds(sp.Annotations[tenancy.AnnotationTemplateKinds])
	for _, gvk := range recorded {
		if err := a.pruneTemplateKind(ctx, sp.Name, gvk, keep); err != nil {
			return err
		}
	}
	want := formatKinds(kinds)
	if want == sp.Annotations[tenancy.AnnotationTemplateKinds] {
		return nil
	}
	patch := client.MergeFrom(sp.DeepCopy())
	if want == "" {
		delete(sp.Annotations, tenancy.AnnotationTemplateKinds)
	} else {
		if sp.Annotations == nil {
			sp.Annotations = map[string]string{}
		}
		sp.Annotations[tenancy.AnnotationTemplateKinds] = want
	}
	return a.Client.Patch(ctx, sp, patch)
}

// pruneTemplateKind deletes the objects of one kind in namespace that a
// template put there (managed-by and template labels) and keep does not
// hold. A kind the API server no longer serves has nothing left to prune.
func (a *Applier) pruneTemplateKind(ctx context.Context, namespace string, gvk schema.GroupVersionKind, keep map[string]bool) error {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	sel := client.MatchingLabels{hostns.LabelManagedBy: hostns.ManagedBy}
	err := a.Client.List(ctx, list, client.InNamespace(namespace), sel, client.HasLabels{tenancy.LabelTemplate})
	if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("spec.template: listing %s to prune: %w", gvk.Kind, err)
	}
	for i := range list.Items {
		u := &list.Items[i]
		if keep[gvk.GroupKind().String()+"/"+u.GetName()] {
			continue
		}
		if err := a.Client.Delete(ctx, u); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("spec.template: pruning %s %s: %w", gvk.Kind, u.GetName(), err)
		}
	}
	return nil
}

// formatKinds and parseKinds write and read tenancy.AnnotationTemplateKinds: a
// sorted, comma-separated list of apiVersion/Kind ("v1/ConfigMap",
// "rbac.authorization.k8s.io/v1/Role").
func formatKinds(kinds map[schema.GroupVersionKind]bool) string {
	out := make([]string, 0, len(kinds))
	for gvk := range kinds {
		out = append(out, gvk.GroupVersion().String()+"/"+gvk.Kind)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func parseKinds(s string) []schema.GroupVersionKind {
	var out []schema.GroupVersionKind
	for _, part := range strings.Split(s, ",") {
		i := strings.LastIndex(part, "/")
		if i <= 0 || i == len(part)-1 {
			continue
		}
		gv, err := schema.ParseGroupVersion(part[:i])
		if err != nil {
			continue
		}
		out = append(out, gv.WithKind(part[i+1:]))
	}
	return out
}
