package helm

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/vcluster"
)

// serviceAddress returns the ClusterIP of the API server's Service (the
// release's name), "" when there is none yet. With create, before a first
// install, it creates the Service itself, marked as the release's so that
// Helm adopts it when it installs the chart's Service of that name: the
// address is then known before the PKI is made, so the first revision's
// serving certificate already covers it (and a rollback to it keeps it).
// A Service of that name that is not the release's is never touched. When
// the Service cannot be made early (an admission webhook that does not
// answer, say), the install makes it and the next Provision signs the
// serving certificate again for its address.
func (p *Provisioner) serviceAddress(ctx context.Context, vc *vcluster.VirtualCluster, create bool) (string, error) {
	ns, name := vc.EffectiveHostNamespace(), ReleaseName(vc)
	var svc corev1.Service
	err := p.host.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &svc)
	switch {
	case err == nil:
		if svc.Annotations[helmReleaseName] != name || svc.Annotations[helmReleaseNamespace] != ns {
			return "", fmt.Errorf("%w: Service %s/%s exists and is not release %s's", vcluster.ErrConflict, ns, name, name)
		}
		return clusterIP(&svc), nil
	case !apierrors.IsNotFound(err):
		return "", fmt.Errorf("helm: reading Service %s/%s: %w", ns, name, err)
	case !create:
		return "", nil
	}
	svc = adoptableService(vc)
	if err := p.host.Create(ctx, &svc); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return p.serviceAddress(ctx, vc, false)
		}
		// The Service is only made early so that the first revision's
		// certificate covers its address: the install makes it (or fails
		// on the same cause, reported by Helm), and the certificate
		// follows on the next Provision.
		ctrl.LoggerFrom(ctx).Info("could not create the API server's Service before the install; Helm will", "namespace", ns, "service", name, "error", err.Error())
		return "", nil
	}
	return clusterIP(&svc), nil
}

// Helm's marks of a release's object: with them an install adopts an
// object that already exists instead of failing.
const (
	helmReleaseName      = "meta.helm.sh/release-name"
	helmReleaseNamespace = "meta.helm.sh/release-namespace"
)

// adoptableService is the API server's Service as the default chart
// renders it, with the marks that let Helm adopt it.
func adoptableService(vc *vcluster.VirtualCluster) corev1.Service {
	ns, name := vc.EffectiveHostNamespace(), ReleaseName(vc)
	selector := map[string]string{"app.kubernetes.io/name": "vclusterkit-control-plane", "app.kubernetes.io/instance": name}
	labels := map[string]string{
		"app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/part-of": "vclusterkit", "app.kubernetes.io/component": "apiserver",
		vcluster.LabelVirtualCluster: vc.Name, vcluster.LabelVirtualClusterNamespace: vc.Namespace,
	}
	for k, v := range selector {
		labels[k] = v
	}
	if vc.Spec.Tenant != "" {
		labels[vcluster.LabelTenant] = vc.Spec.Tenant
	}
	return corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, Annotations: map[string]string{
			helmReleaseName: name, helmReleaseNamespace: ns,
			"vcluster.vclusterkit.io/owner": vc.Namespace + "/" + vc.Name, "vcluster.vclusterkit.io/owner-uid": string(vc.UID),
		}},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: selector,
			Ports:    []corev1.ServicePort{{Name: "https", Port: 443, TargetPort: intstr.FromInt32(6443), Protocol: corev1.ProtocolTCP}},
		},
	}
}

func clusterIP(svc *corev1.Service) string {
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		return ""
	}
	return svc.Spec.ClusterIP
}
