package syncer

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/translate"
)

// Marks of imported objects.
const (
	// AnnotationImport on a host object asks for a virtual copy at
	// "<virtual namespace>/<name>". The host object must also carry
	// translate.LabelVirtualCluster with the virtual cluster's name: only
	// the platform, which owns the host namespace, can mark objects so.
	AnnotationImport = "vcluster.vclusterkit.io/import"
	// AnnotationImported marks the virtual copy of an imported host
	// object. Imported objects are never synced back to the host.
	AnnotationImported = "vcluster.vclusterkit.io/imported-from"
)

// Importer is a FromHost syncer that imports existing host objects into a
// virtual cluster: a host object of its kind in the virtual cluster's host
// namespace carrying the ownership label and AnnotationImport gets a
// virtual copy, kept in step and deleted with it. Use it to share host
// objects (a CA bundle, a registry Secret) with tenants, read-only.
type Importer struct {
	name string
	new  func() client.Object
	copy func(host, virtual client.Object)
}

var _ FromHost = (*Importer)(nil)

// NewImporter returns an Importer named name (unique among an Engine's
// syncers, for example "import-configmaps") for the kind newObj returns.
// copyContent copies the content (data, spec) of a host object onto a
// virtual one; metadata is handled by the importer.
func NewImporter(name string, newObj func() client.Object, copyContent func(host, virtual client.Object)) *Importer {
	return &Importer{name: name, new: newObj, copy: copyContent}
}

// Name implements Syncer.
func (i *Importer) Name() string { return i.name }

// New implements Syncer.
func (i *Importer) New() client.Object { return i.new() }

// ToHost is never called for a FromHost syncer.
func (i *Importer) ToHost(context.Context, *Context, client.Object) (client.Object, error) {
	return nil, Refuse("NotSupported", "imported objects are never written to the host")
}

// ToVirtual is never called for a FromHost syncer.
func (i *Importer) ToVirtual(context.Context, *Context, client.Object, client.Object) (Result, error) {
	return Result{}, nil
}

func importTarget(obj client.Object) (types.NamespacedName, bool) {
	ns, name, ok := strings.Cut(obj.GetAnnotations()[AnnotationImport], "/")
	if !ok || ns == "" || name == "" {
		return types.NamespacedName{}, false
	}
	return types.NamespacedName{Namespace: ns, Name: name}, true
}

// SyncFromHost implements FromHost.
func (i *Importer) SyncFromHost(ctx context.Context, sc *Context, key types.NamespacedName, host client.Object) (Result, error) {
	if key.Namespace != sc.Translator.HostNamespace() {
		return Result{}, nil
	}
	source := key.String()
	// Find the copy: by the host object's target, or (host gone or
	// unmarked) by a virtual object that says it came from this key.
	var target types.NamespacedName
	want := host != nil && sc.Translator.IsManaged(host)
	if want {
		var ok bool
		if target, ok = importTarget(host); !ok {
			want = false
		}
	}
	if host != nil {
		if _, isCopy := sc.Translator.Origin(host); isCopy {
			return Result{}, nil // a synced copy, not an import
		}
	}
	if !want {
		// Remove copies of this source wherever they are.
		list, err := i.listCopies(ctx, sc, source)
		if err != nil {
			return Result{}, err
		}
		for _, v := range list {
			if err := sc.Virtual.Delete(ctx, v); client.IgnoreNotFound(err) != nil {
				return Result{}, err
			}
			sc.Count(i.name, DirectionToVirtual, OpDelete)
		}
		return Result{}, nil
	}
	v := i.new()
	err := sc.Virtual.Get(ctx, target, v)
	exists := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return Result{}, err
	}
	if exists && v.GetAnnotations()[AnnotationImported] != source {
		sc.Recorder.Eventf(v, "Warning", "ImportCollision", "host object %s is to be imported as %s, which exists and is the tenant's; it is left alone", source, target)
		return Result{}, nil
	}
	nv := i.new()
	if exists {
		nv = v.DeepCopyObject().(client.Object)
	}
	i.copy(host, nv)
	nv.SetName(target.Name)
	nv.SetNamespace(target.Namespace)
	labels := translate.VirtualLabels(host.GetLabels())
	nv.SetLabels(labels)
	annotations := translate.VirtualAnnotations(host.GetAnnotations())
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[AnnotationImported] = source
	nv.SetAnnotations(annotations)
	if !exists {
		if err := sc.Virtual.Create(ctx, nv); err != nil {
			return Result{}, fmt.Errorf("import %s as %s: %w", source, target, err)
		}
		sc.Count(i.name, DirectionToVirtual, OpCreate)
		return Result{}, nil
	}
	if err := sc.Virtual.Update(ctx, nv); err != nil {
		return Result{}, fmt.Errorf("update import %s: %w", target, err)
	}
	sc.Count(i.name, DirectionToVirtual, OpUpdate)
	return Result{}, nil
}

// listCopies finds virtual objects imported from source (a host key).
func (i *Importer) listCopies(ctx context.Context, sc *Context, source string) ([]client.Object, error) {
	gvks, _, err := sc.Virtual.Scheme().ObjectKinds(i.new())
	if err != nil {
		return nil, err
	}
	l, err := sc.Virtual.Scheme().New(gvks[0].GroupVersion().WithKind(gvks[0].Kind + "List"))
	if err != nil {
		return nil, err
	}
	list, ok := l.(client.ObjectList)
	if !ok {
		return nil, fmt.Errorf("%s is not a list", gvks[0].Kind+"List")
	}
	if err := sc.Virtual.List(ctx, list); err != nil {
		return nil, err
	}
	var out []client.Object
	items, err := extractList(list)
	if err != nil {
		return nil, err
	}
	for _, o := range items {
		if o.GetAnnotations()[AnnotationImported] == source {
			out = append(out, o)
		}
	}
	return out, nil
}

func extractList(list client.ObjectList) ([]client.Object, error) {
	objs, err := meta.ExtractList(list)
	if err != nil {
		return nil, err
	}
	out := make([]client.Object, 0, len(objs))
	for _, o := range objs {
		if co, ok := o.(client.Object); ok {
			out = append(out, co)
		}
	}
	return out, nil
}
