package services

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/vclusterkit/vclusterkit/sync/translate"
)

// ToHostService returns the spec of the host copy of a virtual Service:
// the selector is scoped to the virtual cluster and namespace, and what the
// host allocates (cluster IPs, node ports, health check port) is left to
// the host. externalIPs are refused (CVE-2020-8554: a tenant could
// intercept traffic to any IP).
func ToHostService(tr *translate.Translator, v *corev1.Service) (*corev1.Service, error) {
	spec := v.Spec.DeepCopy()
	p := field.NewPath("spec")
	if len(spec.ExternalIPs) > 0 {
		return nil, fmt.Errorf("%s: external IPs are not allowed for tenants", p.Child("externalIPs"))
	}
	sel, err := tr.ScopeMapSelector(p.Child("selector"), v.Namespace, spec.Selector)
	if err != nil {
		return nil, err
	}
	spec.Selector = sel
	if spec.ClusterIP != corev1.ClusterIPNone {
		spec.ClusterIP = ""
		spec.ClusterIPs = nil
	} else {
		spec.ClusterIPs = nil
	}
	spec.HealthCheckNodePort = 0
	for i := range spec.Ports {
		spec.Ports[i].NodePort = 0
	}
	return &corev1.Service{Spec: *spec}, nil
}
