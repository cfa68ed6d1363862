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

// KubeletAddresser is implemented by a KubeletServing provisioner whose
// API servers do not run on the engine's machine (in pods, say): it names
// the address, reachable from its API servers, where the engine serves
// their kubelet APIs (the engine pod's IP, or its node's). Without it the
// engine listens on 127.0.0.1, which only an API server on the same
// machine reaches. The engine passes the address to KubeletTLS.
// +kubebuilder:object:generate=false
type KubeletAddresser interface {
	// KubeletAddress is the address; nil means 127.0.0.1.
	KubeletAddress() net.IP
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
