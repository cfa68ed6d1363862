package syncer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/util/csaupgrade"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// AnnotationDesiredHash is the hash of the desired host object last
// applied; a changed virtual object changes it.
const AnnotationDesiredHash = "vcluster.vclusterkit.io/desired-hash"

// prune turns a typed desired object into the map the engine applies:
// metadata reduced to name, namespace, labels and annotations; no status.
func prune(obj client.Object) (map[string]any, error) {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	if _, ok := obj.(runtime.Unstructured); ok {
		// the converter hands out the object's own map
		u = runtime.DeepCopyJSON(u)
	}
	delete(u, "status")
	md, _ := u["metadata"].(map[string]any)
	keep := map[string]any{}
	for _, f := range []string{"name", "namespace", "labels", "annotations", "uid"} {
		if v, ok := md[f]; ok {
			keep[f] = v
		}
	}
	u["metadata"] = keep
	return u, nil
}

func hashOf(obj client.Object) (string, error) {
	u, err := prune(obj)
	if err != nil {
		return "", err
	}
	if md, ok := u["metadata"].(map[string]any); ok {
		if a, ok := md["annotations"].(map[string]any); ok {
			delete(a, AnnotationDesiredHash)
		}
	}
	b, err := json.Marshal(u) // map keys are sorted: deterministic
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16]), nil
}

// stampHash sets AnnotationDesiredHash on desired: the hash of source,
// which is desired itself, or the virtual object for Updater kinds (whose
// desired object is derived from the host copy and would change with it).
func stampHash(desired, source client.Object) error {
	h, err := hashOf(source)
	if err != nil {
		return fmt.Errorf("hash desired object: %w", err)
	}
	a := desired.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[AnnotationDesiredHash] = h
	desired.SetAnnotations(a)
	return nil
}

func (k *kind) hashSource(virtual, desired client.Object) client.Object {
	if _, ok := k.syncer.(Updater); ok {
		if hs, ok := k.syncer.(HashSource); ok {
			return hs.HashSource(virtual)
		}
		return virtual
	}
	return desired
}

// update brings host to desired with a server-side apply by the engine's
// field manager, forced: fields the engine set are put back when edited by
// hand, fields the engine stopped setting are removed, fields set by
// anybody else (host controllers, admission) are kept — a three-way merge
// done by the API server. Nothing is written when host already holds
// everything desired asks for.
func (k *kind) update(ctx context.Context, virtual, desired, host client.Object) (client.Object, error) {
	if err := stampHash(desired, k.hashSource(virtual, desired)); err != nil {
		return nil, err
	}
	want, err := prune(desired)
	if err != nil {
		return nil, err
	}
	have, err := runtime.DefaultUnstructuredConverter.ToUnstructured(host)
	if err != nil {
		return nil, err
	}
	if contains(have, want) {
		return host, nil
	}
	sc := k.e.sc
	// The engine created the object with a plain create, which records
	// its fields under an "Update" entry of the same manager; move them to
	// the "Apply" entry once so that apply can remove them later.
	patch, err := csaupgrade.UpgradeManagedFieldsPatch(host, sets.New(FieldManager), FieldManager)
	if err != nil {
		return nil, fmt.Errorf("upgrade managed fields of host %s: %w", host.GetName(), err)
	}
	if patch != nil {
		obj := host.DeepCopyObject().(client.Object)
		if err := sc.Host.Patch(ctx, obj, client.RawPatch(types.JSONPatchType, patch)); err != nil {
			return nil, fmt.Errorf("upgrade managed fields of host %s: %w", host.GetName(), err)
		}
	}
	want["apiVersion"], want["kind"] = k.gvk.GroupVersion().String(), k.gvk.Kind
	// The uid makes the apply fail instead of touching an object that
	// replaced ours since the cache was read.
	want["metadata"].(map[string]any)["uid"] = string(host.GetUID())
	body, err := json.Marshal(want)
	if err != nil {
		return nil, err
	}
	obj := host.DeepCopyObject().(client.Object)
	if err := sc.Host.Patch(ctx, obj, client.RawPatch(types.ApplyPatchType, body), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return nil, fmt.Errorf("apply host %s: %w", host.GetName(), err)
	}
	k.written.Store(obj.GetName(), obj.GetResourceVersion())
	k.e.metrics.synced.WithLabelValues(k.e.opts.Name, k.syncer.Name(), DirectionToHost, OpUpdate).Inc()
	return obj, nil
}

// contains reports whether have holds everything want asks for. Absent
// and empty values count as equal, and list elements are matched in any
// order with extra elements in have allowed (admission on the host adds
// tolerations, volumes and the like).
func contains(have, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return empty(w) && empty(have)
		}
		for key, wv := range w {
			hv, ok := h[key]
			if !ok {
				if empty(wv) {
					continue
				}
				return false
			}
			if !contains(hv, wv) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok {
			return len(w) == 0 && empty(have)
		}
		used := make([]bool, len(h))
	next:
		for _, wv := range w {
			for i, hv := range h {
				if !used[i] && contains(hv, wv) {
					used[i] = true
					continue next
				}
			}
			return false
		}
		return true
	case nil:
		return true
	default:
		if empty(w) && empty(have) {
			return true
		}
		return fmt.Sprint(have) == fmt.Sprint(want) && sameKind(have, want)
	}
}

func sameKind(a, b any) bool {
	switch a.(type) {
	case string:
		_, ok := b.(string)
		return ok
	case bool:
		_, ok := b.(bool)
		return ok
	default:
		return true
	}
}

func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	case string:
		return x == ""
	}
	return false
}
