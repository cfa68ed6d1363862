package virtualcluster

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/kubeletproxy"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

// kubeletAddress is where a virtual cluster's kubelet API listens: the
// address the provisioner names (vcluster.KubeletAddresser, for API
// servers in pods), else loopback, which an API server on this machine
// (the local provisioner's) reaches.
func kubeletAddress(p vcluster.Provisioner) net.IP {
	if ka, ok := p.(vcluster.KubeletAddresser); ok {
		if ip := ka.KubeletAddress(); ip != nil {
			return ip
		}
	}
	return net.IPv4(127, 0, 0, 1)
}

// kubeletTLS asks a provisioner that serves kubelets for the credentials
// of vc's kubelet API and the address to serve it on; nil when it does not
// (logs and exec then fail inside the virtual cluster, as without
// kubelets).
func kubeletTLS(ctx context.Context, p vcluster.Provisioner, vc *vcluster.VirtualCluster) (*vcluster.KubeletTLS, net.IP, error) {
	ks, ok := p.(vcluster.KubeletServing)
	if !ok {
		return nil, nil, nil
	}
	addr := kubeletAddress(p)
	t, err := ks.KubeletTLS(ctx, vc, []net.IP{addr})
	if err != nil {
		return nil, nil, fmt.Errorf("kubelet API credentials: %w", err)
	}
	return &t, addr, nil
}

// newKubeletProxy binds the kubelet API server of the virtual cluster of
// spec, which runs beside its sync engine; nil when spec has no kubelet
// credentials. It binds port when it can (the one this virtual cluster
// had before a restart, say after it slept: its virtual nodes still
// advertise it, and kubectl logs or exec right after waking would find a
// closed port until the nodes syncer caught up), else a free one.
func newKubeletProxy(h *syncer.Host, spec syncerSpec, port int32) (*kubeletproxy.Server, *syncer.KubeletEndpoint, error) {
	if spec.kubelet == nil {
		return nil, nil, nil
	}
	virtual, err := client.New(spec.config, client.Options{})
	if err != nil {
		return nil, nil, fmt.Errorf("kubelet API: virtual client: %w", err)
	}
	opts := kubeletproxy.Options{
		VirtualCluster: spec.name, HostNamespace: spec.hostNamespace,
		Virtual: virtual, Host: h.Cluster().GetAPIReader(), HostConfig: h.Config(),
		ClientCA: spec.kubelet.ClientCA, ClientName: spec.kubelet.ClientName,
		Cert: spec.kubelet.Cert, Key: spec.kubelet.Key,
		Address: net.JoinHostPort(spec.kubeletAddress.String(), strconv.Itoa(int(port))),
	}
	srv, err := kubeletproxy.New(opts)
	if err != nil && port != 0 {
		opts.Address = net.JoinHostPort(spec.kubeletAddress.String(), "0")
		srv, err = kubeletproxy.New(opts)
	}
	if err != nil {
		return nil, nil, err
	}
	a := srv.Addr()
	return srv, &syncer.KubeletEndpoint{Address: a.IP.String(), Port: int32(a.Port)}, nil
}
