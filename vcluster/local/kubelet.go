package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"

	"github.com/vclusterkit/vclusterkit/internal/pki"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

var _ vcluster.KubeletServing = (*Provisioner)(nil)

// KubeletClientName is the common name of the certificate a virtual API
// server presents to kubelets (its --kubelet-client-certificate).
const KubeletClientName = "kube-apiserver-kubelet-client"

// kubeletArgs are the API server's kubelet client flags: it calls kubelets
// with a certificate of the kubelet CA, trusts only servers of that CA, and
// dials the InternalIP its Nodes advertise (no DNS for node names).
func kubeletArgs(pk string) []string {
	return []string{
		"--kubelet-client-certificate=" + filepath.Join(pk, "kubelet-client.crt"),
		"--kubelet-client-key=" + filepath.Join(pk, "kubelet-client.key"),
		"--kubelet-certificate-authority=" + filepath.Join(pk, "kubelet-ca.crt"),
		"--kubelet-preferred-address-types=InternalIP",
	}
}

// ensureKubeletPKI creates the kubelet CA and the API server's kubelet
// client certificate when the state directory has none (a control plane
// created before they existed gets them at its next start). The kubelet CA
// is not the cluster CA: that one signs whatever certificate signing
// request a tenant approves inside its virtual cluster, and member
// certificates, so a certificate from it must not reach the kubelet API.
func ensureKubeletPKI(dir string) error {
	pk := filepath.Join(dir, pkiDir)
	if _, err := os.Stat(filepath.Join(pk, "kubelet-client.crt")); err == nil {
		return nil
	}
	ca, err := pki.NewCA("vclusterkit-kubelet-ca")
	if err != nil {
		return fmt.Errorf("local: kubelet CA: %w", err)
	}
	client, err := pki.ClientCert(ca, KubeletClientName, nil)
	if err != nil {
		return fmt.Errorf("local: kubelet client certificate: %w", err)
	}
	for name, b := range map[string][]byte{
		"kubelet-ca.crt": ca.Cert, "kubelet-ca.key": ca.Key,
		"kubelet-client.key": client.Key, "kubelet-client.crt": client.Cert, // the .crt last: it marks the set complete
	} {
		if err := os.WriteFile(filepath.Join(pk, name), b, 0o600); err != nil {
			return fmt.Errorf("local: writing %s: %w", name, err)
		}
	}
	return nil
}

// KubeletTLS implements vcluster.KubeletServing: a serving certificate for
// ips from the virtual cluster's kubelet CA, which its API server trusts,
// and that CA for the API server's client certificate.
func (p *Provisioner) KubeletTLS(ctx context.Context, vc *vcluster.VirtualCluster, ips []net.IP) (vcluster.KubeletTLS, error) {
	if len(ips) == 0 {
		return vcluster.KubeletTLS{}, errors.New("local: KubeletTLS: ips: at least one address is required")
	}
	dir, _, err := p.owned(vc)
	if err != nil {
		return vcluster.KubeletTLS{}, err
	}
	ca, err := readKeyPair(dir, "kubelet-ca")
	if errors.Is(err, fs.ErrNotExist) {
		return vcluster.KubeletTLS{}, fmt.Errorf("%w: control plane in %s has no kubelet CA yet (it is made when the control plane starts)", vcluster.ErrNotFound, dir)
	}
	if err != nil {
		return vcluster.KubeletTLS{}, err
	}
	serving, err := pki.ServingCert(ca, "vclusterkit-kubelet-api", nil, ips)
	if err != nil {
		return vcluster.KubeletTLS{}, err
	}
	return vcluster.KubeletTLS{ClientCA: ca.Cert, ClientName: KubeletClientName, Cert: serving.Cert, Key: serving.Key}, nil
}
