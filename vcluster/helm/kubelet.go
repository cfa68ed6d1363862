package helm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/pki"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

var (
	_ vcluster.KubeletServing   = (*Provisioner)(nil)
	_ vcluster.KubeletAddresser = (*Provisioner)(nil)
)

// KubeletClientName is the common name of the certificate a virtual API
// server presents to kubelets (its --kubelet-client-certificate).
const KubeletClientName = "kube-apiserver-kubelet-client"

// LabelControlPlane marks the control-plane pods of a release (value: the
// release name). It is under the engine's reserved domain, which no synced
// pod can carry, so a policy selecting it opens nothing to a tenant's pods.
const LabelControlPlane = "vcluster.vclusterkit.io/control-plane"

// KubeletAddress implements vcluster.KubeletAddresser with
// Options.KubeletAddress.
func (p *Provisioner) KubeletAddress() net.IP { return p.opts.KubeletAddress }

// KubeletTLS implements vcluster.KubeletServing: a serving certificate for
// ips from the virtual cluster's kubelet CA (in its PKI Secret), which its
// API server trusts, and that CA for the API server's client certificate.
// It also lets the control-plane pods, and only them, reach ips through
// host NetworkPolicies that isolate the namespace: a NetworkPolicy
// RELEASE-kubelet allows their egress to each address (any port: the
// engine picks a free one per virtual cluster).
func (p *Provisioner) KubeletTLS(ctx context.Context, vc *vcluster.VirtualCluster, ips []net.IP) (vcluster.KubeletTLS, error) {
	if vc == nil {
		return vcluster.KubeletTLS{}, errors.New("helm: nil VirtualCluster")
	}
	if len(ips) == 0 {
		return vcluster.KubeletTLS{}, errors.New("helm: KubeletTLS: ips: at least one address is required")
	}
	ns, name := vc.EffectiveHostNamespace(), ReleaseName(vc)
	var s corev1.Secret
	if err := p.host.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-pki"}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return vcluster.KubeletTLS{}, fmt.Errorf("%w: PKI Secret %s/%s-pki not found", vcluster.ErrNotFound, ns, name)
		}
		return vcluster.KubeletTLS{}, err
	}
	ca := pki.KeyPair{Cert: s.Data["kubelet-ca.crt"], Key: s.Data["kubelet-ca.key"]}
	if len(ca.Cert) == 0 || len(ca.Key) == 0 {
		return vcluster.KubeletTLS{}, fmt.Errorf("%w: PKI Secret %s/%s-pki has no kubelet CA (the release predates it: provision it again)", vcluster.ErrNotFound, ns, name)
	}
	serving, err := pki.ServingCert(ca, "vclusterkit-kubelet-api", nil, ips)
	if err != nil {
		return vcluster.KubeletTLS{}, err
	}
	if err := p.ensureKubeletPolicy(ctx, vc, ips); err != nil {
		return vcluster.KubeletTLS{}, err
	}
	return vcluster.KubeletTLS{ClientCA: ca.Cert, ClientName: KubeletClientName, Cert: serving.Cert, Key: serving.Key}, nil
}

// kubeletPolicy is the NetworkPolicy that lets the control-plane pods of
// vc reach the kubelet API addresses ips. Loopback addresses need none.
func kubeletPolicy(vc *vcluster.VirtualCluster, ips []net.IP) *networkingv1.NetworkPolicy {
	ns, name := vc.EffectiveHostNamespace(), ReleaseName(vc)
	var to []networkingv1.NetworkPolicyPeer
	for _, ip := range ips {
		if ip.IsLoopback() || ip.IsUnspecified() {
			continue
		}
		bits := 128
		if ip.To4() != nil {
			bits = 32
		}
		cidr := fmt.Sprintf("%s/%d", ip, bits)
		if !slices.ContainsFunc(to, func(p networkingv1.NetworkPolicyPeer) bool { return p.IPBlock.CIDR == cidr }) {
			to = append(to, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr}})
		}
	}
	if len(to) == 0 {
		return nil
	}
	labels := map[string]string{
		"app.kubernetes.io/name": "vclusterkit-control-plane", "app.kubernetes.io/instance": name,
		"app.kubernetes.io/part-of": "vclusterkit", "app.kubernetes.io/component": "kubelet-api",
		vcluster.LabelVirtualCluster: vc.Name, vcluster.LabelVirtualClusterNamespace: vc.Namespace,
	}
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-kubelet", Labels: labels, Annotations: map[string]string{
			"vcluster.vclusterkit.io/owner": vc.Namespace + "/" + vc.Name, "vcluster.vclusterkit.io/owner-uid": string(vc.UID),
		}},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{
				"app.kubernetes.io/instance": name, LabelControlPlane: name,
			}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress:      []networkingv1.NetworkPolicyEgressRule{{To: to}},
		},
	}
}

func (p *Provisioner) ensureKubeletPolicy(ctx context.Context, vc *vcluster.VirtualCluster, ips []net.IP) error {
	want := kubeletPolicy(vc, ips)
	if want == nil {
		return nil
	}
	var got networkingv1.NetworkPolicy
	err := p.host.Get(ctx, client.ObjectKeyFromObject(want), &got)
	switch {
	case apierrors.IsNotFound(err):
		if err := p.host.Create(ctx, want); err != nil {
			return fmt.Errorf("helm: creating NetworkPolicy %s/%s: %w", want.Namespace, want.Name, err)
		}
		return nil
	case err != nil:
		return err
	}
	got.Labels, got.Annotations, got.Spec = want.Labels, want.Annotations, want.Spec
	if err := p.host.Update(ctx, &got); err != nil {
		return fmt.Errorf("helm: updating NetworkPolicy %s/%s: %w", want.Namespace, want.Name, err)
	}
	return nil
}
