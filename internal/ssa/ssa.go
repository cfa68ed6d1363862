// Package ssa writes objects with server-side apply as the engine's field
// manager. It is what every controller of the engine uses to write host
// objects it owns; it is not a general apply library.
package ssa

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FieldOwner is the server-side apply field manager of everything the
// engine writes to the host.
const FieldOwner = "vclusterkit"

// Apply writes obj with server-side apply as FieldOwner, taking ownership
// of the fields it sets (a hand edit is put back), and reads the result
// back into obj. obj is typed (its kind is found in c's scheme) or
// unstructured (it carries its apiVersion and kind). Only the fields set in
// obj are applied: zero values omitted from its JSON form are not claimed.
func Apply(ctx context.Context, c client.Client, obj client.Object) error {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		gvk, err := c.GroupVersionKindFor(obj)
		if err != nil {
			return err
		}
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return fmt.Errorf("apply: %w", err)
		}
		u = &unstructured.Unstructured{Object: m}
		u.SetGroupVersionKind(gvk)
	}
	u.SetResourceVersion("")
	u.SetManagedFields(nil)
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return err
	}
	if ok {
		return nil
	}
	return runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj)
}
