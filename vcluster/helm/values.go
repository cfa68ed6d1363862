package helm

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"net"
	"reflect"
	"slices"

	"github.com/vclusterkit/vclusterkit/internal/pki"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/kubeconfig"
)

// Values are merged in this order, each layer overriding the one before
// (maps merge key by key, anything else is replaced):
//
//  1. the chart's values.yaml;
//  2. values derived from the VirtualCluster spec (kubernetesVersion,
//     images for that version, backingStore.type, service.type);
//  3. Options.Values, the platform's values for every virtual cluster;
//  4. VirtualCluster.Spec.Values, the user's values for this one;
//  5. identity values the provisioner owns, which nobody overrides: name,
//     owner, pki, kubeconfig, backingStore (type and DSN), etcdPrefix and
//     sleeping.
//
// addr is the ClusterIP of the API server's Service (see identity).
//
// So a platform can pin a mirror registry and a user can raise resources,
// but neither can point a virtual cluster at another's store or PKI.
func (p *Provisioner) values(req vcluster.Request, release, version, addr string, existing map[string]any) (map[string]any, error) {
	vc := req.Cluster
	hostNS := vc.EffectiveHostNamespace()
	derived := map[string]any{
		"kubernetesVersion": version,
		"images": map[string]any{
			"apiServer":         p.image(p.opts.Images.APIServer, "registry.k8s.io/kube-apiserver", version),
			"controllerManager": p.image(p.opts.Images.ControllerManager, "registry.k8s.io/kube-controller-manager", version),
			"kine":              p.image(p.opts.Images.Kine, "docker.io/rancher/kine:v0.17.5", ""),
		},
		"service": map[string]any{"type": string(exposeType(vc))},
	}
	out := map[string]any{}
	merge(out, derived)
	merge(out, deepCopy(p.opts.Values))
	if vc.Spec.Values != nil && len(vc.Spec.Values.Raw) > 0 {
		var user map[string]any
		if err := json.Unmarshal(vc.Spec.Values.Raw, &user); err != nil {
			return nil, fmt.Errorf("spec.values: must be a JSON object: %w", err)
		}
		merge(out, user)
	}

	pkiFiles, kc, err := p.identity(release, hostNS, addr, vc, existing)
	if err != nil {
		return nil, err
	}
	sleeping := false
	if existing != nil {
		sleeping, _ = existing["sleeping"].(bool)
	}
	merge(out, map[string]any{
		"name": vc.Name,
		"owner": map[string]any{
			"namespace": vc.Namespace, "name": vc.Name, "uid": string(vc.UID), "tenant": vc.Spec.Tenant,
		},
		"pki":          pkiFiles,
		"kubeconfig":   kc,
		"backingStore": map[string]any{"type": string(vc.EffectiveBackingStore()), "dsn": req.BackingStoreDSN},
		"etcdPrefix":   "/vclusterkit/" + hostNS + "/" + vc.Name + "/registry",
		"sleeping":     sleeping,
	})
	return normalize(out)
}

func (p *Provisioner) image(override, repo, tag string) string {
	if override != "" {
		return override
	}
	if tag == "" {
		return repo
	}
	return repo + ":" + tag
}

func exposeType(vc *vcluster.VirtualCluster) vcluster.ExposeType {
	if vc.Spec.Expose != nil && vc.Spec.Expose.Type != "" {
		return vc.Spec.Expose.Type
	}
	return vcluster.ExposeClusterIP
}

// identity returns the PEM files and admin kubeconfig: the release's existing
// ones when there are, so upgrades and rollbacks keep the cluster identity,
// or a newly generated set. addr is the ClusterIP of the API server's
// Service (empty while unknown): the serving certificate covers it and the
// admin kubeconfig reaches the server there. Files an older release lacks
// (the kubelet PKI) are added, and a serving certificate that does not
// cover addr is signed again with the same CA; nothing else changes.
func (p *Provisioner) identity(release, hostNS, addr string, vc *vcluster.VirtualCluster, existing map[string]any) (map[string]any, string, error) {
	dns, ips := servingNames(release, hostNS, addr, vc)
	var files map[string]any
	if existing != nil {
		if f, ok := existing["pki"].(map[string]any); ok && len(f) > 0 {
			files = deepCopy(f)
		}
	}
	if files == nil {
		set, err := pki.Generate(pki.Options{CommonName: "vclusterkit-" + hostNS + "-" + vc.Name, DNSNames: dns, IPs: ips})
		if err != nil {
			return nil, "", err
		}
		kcm, err := kubeconfig.Build(kubeconfig.Config{Server: "https://127.0.0.1:6443", CA: set.CA.Cert,
			ClientCert: set.ControllerMgr.Cert, ClientKey: set.ControllerMgr.Key, User: "kube-controller-manager"})
		if err != nil {
			return nil, "", err
		}
		files = map[string]any{
			"ca.crt": string(set.CA.Cert), "ca.key": string(set.CA.Key),
			"apiserver.crt": string(set.Serving.Cert), "apiserver.key": string(set.Serving.Key),
			"front-proxy-ca.crt":     string(set.FrontProxyCA.Cert),
			"front-proxy-client.crt": string(set.FrontProxy.Cert), "front-proxy-client.key": string(set.FrontProxy.Key),
			"sa.pub": string(set.ServiceAccount.Cert), "sa.key": string(set.ServiceAccount.Key),
			"kcm.kubeconfig": string(kcm),
			// The admin client certificate is kept so that the kubeconfig
			// can be rebuilt for another address.
			"admin.crt": string(set.Admin.Cert), "admin.key": string(set.Admin.Key),
		}
	}
	ca := pki.KeyPair{Cert: []byte(str(files, "ca.crt")), Key: []byte(str(files, "ca.key"))}
	if !covers(str(files, "apiserver.crt"), addr) {
		serving, err := pki.ServingCert(ca, "kube-apiserver", dns, ips)
		if err != nil {
			return nil, "", fmt.Errorf("helm: serving certificate for %s: %w", addr, err)
		}
		files["apiserver.crt"], files["apiserver.key"] = string(serving.Cert), string(serving.Key)
	}
	if str(files, "kubelet-client.crt") == "" {
		kca, err := pki.NewCA("vclusterkit-kubelet-ca")
		if err != nil {
			return nil, "", fmt.Errorf("helm: kubelet CA: %w", err)
		}
		kc, err := pki.ClientCert(kca, KubeletClientName, nil)
		if err != nil {
			return nil, "", fmt.Errorf("helm: kubelet client certificate: %w", err)
		}
		files["kubelet-ca.crt"], files["kubelet-ca.key"] = string(kca.Cert), string(kca.Key)
		files["kubelet-client.crt"], files["kubelet-client.key"] = string(kc.Cert), string(kc.Key)
	}
	server := serverURLFor(release, hostNS, addr)
	if existing != nil {
		if kc, _ := existing["kubeconfig"].(string); kc != "" && kubeconfigServer(kc) == server {
			return files, kc, nil
		}
	}
	admin := pki.KeyPair{Cert: []byte(str(files, "admin.crt")), Key: []byte(str(files, "admin.key"))}
	if len(admin.Cert) == 0 {
		// A release from before the admin pair was kept: a new one.
		kp, err := pki.ClientCert(ca, pki.AdminUser, []string{"system:masters"})
		if err != nil {
			return nil, "", err
		}
		admin = kp
		files["admin.crt"], files["admin.key"] = string(kp.Cert), string(kp.Key)
	}
	kc, err := kubeconfig.Build(kubeconfig.Config{Server: server, CA: ca.Cert,
		ClientCert: admin.Cert, ClientKey: admin.Key, Name: hostNS + "-" + vc.Name})
	if err != nil {
		return nil, "", err
	}
	return files, string(kc), nil
}

// servingNames are the names and addresses the API server's certificate
// covers: the in-cluster names of its Service (and the exposed hostname
// and extra SANs), the kubernetes.default names pods use, loopback, the
// virtual kubernetes Service's address and the Service's ClusterIP addr.
func servingNames(release, hostNS, addr string, vc *vcluster.VirtualCluster) ([]string, []net.IP) {
	dns := []string{release, release + "." + hostNS, release + "." + hostNS + ".svc", release + "." + hostNS + ".svc.cluster.local"}
	if vc.Spec.Expose != nil {
		if vc.Spec.Expose.Hostname != "" {
			dns = append(dns, vc.Spec.Expose.Hostname)
		}
		dns = append(dns, vc.Spec.Expose.ExtraSANs...)
	}
	var ips []net.IP
	if ip := net.ParseIP(addr); ip != nil {
		ips = append(ips, ip)
	}
	// What pki.Generate adds to every serving certificate, for a
	// certificate signed again.
	dns = append([]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}, dns...)
	ips = append([]net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback, net.IPv4(10, 96, 0, 1)}, ips...)
	return dns, ips
}

// covers reports whether the PEM certificate is valid for the IP address
// addr; any certificate covers an empty addr.
func covers(certPEM, addr string) bool {
	ip := net.ParseIP(addr)
	if ip == nil {
		return certPEM != ""
	}
	b, _ := pem.Decode([]byte(certPEM))
	if b == nil {
		return false
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(c.IPAddresses, ip.Equal)
}

func kubeconfigServer(kc string) string {
	cfg, err := kubeconfig.RESTConfig([]byte(kc))
	if err != nil {
		return ""
	}
	return cfg.Host
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// serverURLFor is where the API server answers: its Service's ClusterIP
// when known (reachable from host pods, from virtual pods, whose DNS is
// the virtual cluster's, and from the nodes), else the Service's
// in-cluster name.
func serverURLFor(release, hostNS, addr string) string {
	if ip := net.ParseIP(addr); ip != nil {
		return "https://" + net.JoinHostPort(ip.String(), "443")
	}
	return ServerURL(release, hostNS)
}

// ServerURL is the in-cluster URL of a release's virtual API server.
func ServerURL(release, hostNS string) string {
	return "https://" + release + "." + hostNS + ".svc:443"
}

// merge copies src into dst, recursing into maps present in both.
func merge(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				merge(dm, sm)
				continue
			}
			dst[k] = deepCopy(sm)
			continue
		}
		dst[k] = v
	}
}

func deepCopy(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	maps.Copy(out, m)
	for k, v := range out {
		if sm, ok := v.(map[string]any); ok {
			out[k] = deepCopy(sm)
		}
	}
	return out
}

// normalize round-trips values through JSON so they compare equal to what
// Helm stores (numbers as float64, lists as []any).
func normalize(m map[string]any) (map[string]any, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	return out, json.Unmarshal(b, &out)
}

func sameValues(a, b map[string]any) bool {
	na, err1 := normalize(a)
	nb, err2 := normalize(b)
	return err1 == nil && err2 == nil && reflect.DeepEqual(na, nb)
}
