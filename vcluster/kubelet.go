package vcluster

import (
	"context"
	"net"
)

// KubeletServing is implemented by provisioners whose virtual API server
// reaches the kubelets of its nodes with a client certificate
// (kube-apiserver --kubelet-client-certificate) and verifies them with a CA
// of the provisioner's (--kubelet-certificate-authority). The engine then
// serves the kubelet API for that virtual cluster itself (logs, exec,
// attach, port-forward reach the host pods), at an address the virtual
// nodes advertise. A provisioner without it leaves those paths failing, as
// a virtual cluster without kubelets does.
// +kubebuilder:object:generate=false
type KubeletServing interface {
	// KubeletTLS returns the credentials of a kubelet API server for vc's
	// API server, listening on ips. It is called after Provision reported
	// Ready, and again whenever the engine restarts the server.
	KubeletTLS(ctx context.Context, vc *VirtualCluster, ips []net.IP) (KubeletTLS, error)
}

// KubeletTLS is what a kubelet API server of one virtual cluster needs.
// +kubebuilder:object:generate=false
type KubeletTLS struct {
	// ClientCA (PEM) is the CA the virtual API server's kubelet client
	// certificate chains to. It must sign nothing a tenant can obtain (the
	// cluster CA's CSR signer hands certificates to anyone the tenant
	// approves), so only that API server passes.
	ClientCA []byte
	// ClientName is the common name of that client certificate; other
	// certificates of ClientCA are refused too.
	ClientName string
	// Cert and Key (PEM) are a serving certificate for the requested
	// addresses, trusted by the virtual API server.
	Cert, Key []byte
}
