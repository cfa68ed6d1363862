package ingresses

import (
	"fmt"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/vclusterkit/vclusterkit/sync/translate"
)

// ToHostIngress returns the spec of the host copy of a virtual Ingress:
// backend Services and TLS Secrets are translated into the Ingress's
// namespace; resource backends (arbitrary kinds) are refused.
func ToHostIngress(tr *translate.Translator, v *networkingv1.Ingress) (*networkingv1.Ingress, error) {
	spec := v.Spec.DeepCopy()
	p := field.NewPath("spec")
	backend := func(b *networkingv1.IngressBackend, bp *field.Path) error {
		if b == nil {
			return nil
		}
		if b.Resource != nil {
			return fmt.Errorf("%s: resource backends are not allowed", bp.Child("resource"))
		}
		if b.Service != nil {
			b.Service.Name = tr.HostName(b.Service.Name, v.Namespace)
		}
		return nil
	}
	if err := backend(spec.DefaultBackend, p.Child("defaultBackend")); err != nil {
		return nil, err
	}
	for i := range spec.Rules {
		if spec.Rules[i].HTTP == nil {
			continue
		}
		for j := range spec.Rules[i].HTTP.Paths {
			if err := backend(&spec.Rules[i].HTTP.Paths[j].Backend, p.Child("rules").Index(i).Child("http", "paths").Index(j).Child("backend")); err != nil {
				return nil, err
			}
		}
	}
	for i := range spec.TLS {
		if spec.TLS[i].SecretName != "" {
			spec.TLS[i].SecretName = tr.HostName(spec.TLS[i].SecretName, v.Namespace)
		}
	}
	return &networkingv1.Ingress{Spec: *spec}, nil
}

// Hosts returns the hosts an Ingress claims (rules and TLS).
func Hosts(in *networkingv1.Ingress) []string {
	var out []string
	for _, r := range in.Spec.Rules {
		if r.Host != "" {
			out = append(out, strings.ToLower(r.Host))
		}
	}
	for _, t := range in.Spec.TLS {
		for _, h := range t.Hosts {
			out = append(out, strings.ToLower(h))
		}
	}
	return out
}

// Overlap reports whether two host patterns can match the same name:
// equal, or a wildcard "*.d" covering the other's subdomain of d (or both
// wildcards over nested domains).
func Overlap(a, b string) bool {
	if a == b {
		return true
	}
	covers := func(w, h string) bool {
		if !strings.HasPrefix(w, "*.") {
			return false
		}
		suffix := w[1:] // ".d"
		h = strings.TrimPrefix(h, "*")
		return strings.HasSuffix(h, suffix) && len(h) > len(suffix)
	}
	return covers(a, b) || covers(b, a)
}
