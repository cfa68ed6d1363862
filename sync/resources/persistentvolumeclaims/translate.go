package persistentvolumeclaims

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/vclusterkit/vclusterkit/sync/translate"
)

// ToHostPVC returns the spec of the host copy of a virtual claim. A tenant
// may not pick host volumes (spec.volumeName, spec.selector): that would let
// it bind another tenant's PersistentVolume. Data sources are translated
// into the claim's namespace. allowedClasses, when not empty, limits
// spec.storageClassName.
func ToHostPVC(tr *translate.Translator, v *corev1.PersistentVolumeClaim, allowedClasses []string) (*corev1.PersistentVolumeClaim, error) {
	p := field.NewPath("spec")
	spec := v.Spec.DeepCopy()
	if spec.VolumeName != "" {
		return nil, fmt.Errorf("%s: binding to a named host volume is not allowed", p.Child("volumeName"))
	}
	if spec.Selector != nil {
		return nil, fmt.Errorf("%s: selecting host volumes is not allowed", p.Child("selector"))
	}
	if len(allowedClasses) > 0 {
		class := ""
		if spec.StorageClassName != nil {
			class = *spec.StorageClassName
		}
		if !slices.Contains(allowedClasses, class) {
			return nil, fmt.Errorf("%s: storage class %q is not allowed (allowed: %v)", p.Child("storageClassName"), class, allowedClasses)
		}
	}
	if ds := spec.DataSource; ds != nil {
		ds.Name = tr.HostName(ds.Name, v.Namespace)
	}
	if ds := spec.DataSourceRef; ds != nil {
		if ds.Namespace != nil && *ds.Namespace != v.Namespace {
			return nil, fmt.Errorf("%s: cross-namespace data sources are not allowed", p.Child("dataSourceRef", "namespace"))
		}
		ds.Namespace = nil
		ds.Name = tr.HostName(ds.Name, v.Namespace)
	}
	return &corev1.PersistentVolumeClaim{Spec: *spec}, nil
}
