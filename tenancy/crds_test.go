package tenancy_test

import (
	"testing"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

func TestCRDs(t *testing.T) {
	crds, err := tenancy.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"spaces.tenancy.vclusterkit.io": "Space", "tenants.tenancy.vclusterkit.io": "Tenant"}
	if len(crds) != len(want) {
		t.Fatalf("got %d CRDs", len(crds))
	}
	for _, crd := range crds {
		if want[crd.Name] != crd.Spec.Names.Kind || crd.Spec.Group != tenancy.Group {
			t.Errorf("%s: kind %s group %s", crd.Name, crd.Spec.Names.Kind, crd.Spec.Group)
		}
		if len(crd.Spec.Versions) != 1 || crd.Spec.Versions[0].Name != tenancy.GroupVersion.Version {
			t.Errorf("%s: versions %+v, want only %s", crd.Name, crd.Spec.Versions, tenancy.GroupVersion.Version)
			continue
		}
		v := crd.Spec.Versions[0]
		if v.Subresources == nil || v.Subresources.Status == nil || len(v.SelectableFields) != 1 {
			t.Errorf("%s: want a status subresource and one selectable field", crd.Name)
		}
		if len(v.Schema.OpenAPIV3Schema.XValidations) < 3 {
			t.Errorf("%s: the name CEL rules are missing", crd.Name)
		}
	}
}
