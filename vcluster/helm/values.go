package helm

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"

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
// So a platform can pin a mirror registry and a user can raise resources,
// but neither can point a virtual cluster at another's store or PKI.
func (p *Provisioner) values(req vcluster.Request, release string, version string, existing map[string]any) (map[string]any, error) {
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

	pkiFiles, kc, err := p.identity(release, hostNS, vc, existing)
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
// or a newly generated set.
func (p *Provisioner) identity(release, hostNS string, vc *vcluster.VirtualCluster, existing map[string]any) (map[string]any, string, error) {
	if existing != nil {
		if files, ok := existing["pki"].(map[string]any); ok && len(files) > 0 {
			kc, _ := existing["kubeconfig"].(string)
			return files, kc, nil
		}
	}
	dns := []string{release, release + "." + hostNS, release + "." + hostNS + ".svc", release + "." + hostNS + ".svc.cluster.local"}
	if vc.Spec.Expose != nil {
		if vc.Spec.Expose.Hostname != "" {
			dns = append(dns, vc.Spec.Expose.Hostname)
		}
		dns = append(dns, vc.Spec.Expose.ExtraSANs...)
	}
	set, err := pki.Generate(pki.Options{CommonName: "vclusterkit-" + hostNS + "-" + vc.Name, DNSNames: dns})
	if err != nil {
		return nil, "", err
	}
	kcm, err := kubeconfig.Build(kubeconfig.Config{Server: "https://127.0.0.1:6443", CA: set.CA.Cert,
		ClientCert: set.ControllerMgr.Cert, ClientKey: set.ControllerMgr.Key, User: "kube-controller-manager"})
	if err != nil {
		return nil, "", err
	}
	admin, err := kubeconfig.Build(kubeconfig.Config{Server: ServerURL(release, hostNS), CA: set.CA.Cert,
		ClientCert: set.Admin.Cert, ClientKey: set.Admin.Key, Name: hostNS + "-" + vc.Name})
	if err != nil {
		return nil, "", err
	}
	files := map[string]any{
		"ca.crt": string(set.CA.Cert), "ca.key": string(set.CA.Key),
		"apiserver.crt": string(set.Serving.Cert), "apiserver.key": string(set.Serving.Key),
		"front-proxy-ca.crt":     string(set.FrontProxyCA.Cert),
		"front-proxy-client.crt": string(set.FrontProxy.Cert), "front-proxy-client.key": string(set.FrontProxy.Key),
		"sa.pub": string(set.ServiceAccount.Cert), "sa.key": string(set.ServiceAccount.Key),
		"kcm.kubeconfig": string(kcm),
	}
	return files, string(admin), nil
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
