package vclusterkit

import (
	"fmt"
	"net"
	"net/url"
	"strconv"

	psapi "k8s.io/pod-security-admission/api"

	"github.com/vclusterkit/vclusterkit/sync/resources/builtin"
	"github.com/vclusterkit/vclusterkit/sync/resources/ingresses"
	"github.com/vclusterkit/vclusterkit/sync/resources/nodes"
	"github.com/vclusterkit/vclusterkit/sync/resources/persistentvolumeclaims"
	"github.com/vclusterkit/vclusterkit/sync/resources/pods"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

// DefaultSyncers is the built-in syncer set (sync/resources/builtin),
// configured from the virtual cluster's Spec.Sync and the tenant's
// effective policy: its Pod Security Standard and allowed runtime and
// priority classes are enforced before a pod reaches the host, its node
// selector on every host pod, and its allowed storage and ingress classes
// on claims and ingresses. Spec.Sync.ToHost and
// FromHost, when set, list the kinds to sync (service accounts and
// ingresses only when listed); Spec.Sync.Nodes picks fake (default) or real
// nodes.
func DefaultSyncers(vc *vcluster.VirtualCluster, pol tenancy.Policy) ([]syncer.Syncer, error) {
	level := psapi.LevelBaseline
	switch pol.PodSecurity {
	case tenancy.PodSecurityPrivileged:
		level = psapi.LevelPrivileged
	case tenancy.PodSecurityRestricted:
		level = psapi.LevelRestricted
	}
	opts := builtin.Options{
		Pods: pods.Options{PodSecurity: level, NodeSelector: pol.NodeSelector,
			AllowedRuntimeClasses: pol.AllowedRuntimeClasses, AllowedPriorityClasses: pol.AllowedPriorityClasses},
		AllConfigMaps:          vc.Spec.Sync.AllConfigMaps,
		AllSecrets:             vc.Spec.Sync.AllSecrets,
		PersistentVolumeClaims: persistentvolumeclaims.Options{AllowedStorageClasses: pol.AllowedStorageClasses},
		Nodes:                  nodes.Options{Mode: nodes.Fake},
	}
	// Host pods reach the virtual API server as kubernetes.default when
	// its endpoint is routable from them: a Service of the helm
	// provisioner, or the local provisioner with local.Options.Address
	// (the node's IP, say). Its default loopback endpoint is not.
	opts.Pods.APIServerHost, opts.Pods.APIServerPort = routableAPIServer(vc.Status.Endpoint)
	if vc.Spec.Sync.Nodes == vcluster.NodeSyncReal {
		opts.Nodes.Mode = nodes.Real
	}
	listed := map[string]bool{}
	for _, k := range append(append([]string(nil), vc.Spec.Sync.ToHost...), vc.Spec.Sync.FromHost...) {
		listed[k] = true
	}
	if len(listed) > 0 {
		known := map[string]bool{}
		for _, n := range builtin.Names() {
			known[n] = true
			if !listed[n] && n != "serviceaccounts" && n != "ingresses" {
				opts.Disable = append(opts.Disable, n)
			}
		}
		for k := range listed {
			if !known[k] {
				return nil, fmt.Errorf("unknown kind %q (built-in: %v)", k, builtin.Names())
			}
		}
		opts.ServiceAccounts = listed["serviceaccounts"]
		if listed["ingresses"] {
			opts.Ingresses = &ingresses.Options{AllowedIngressClasses: pol.AllowedIngressClasses}
		}
	}
	return builtin.Syncers(opts)
}

// routableAPIServer returns the host and port of endpoint when pods on the
// host can reach it, else "" and 0.
func routableAPIServer(endpoint string) (string, int32) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Hostname() == "" {
		return "", 0
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() || u.Hostname() == "localhost" {
		return "", 0
	}
	port := 443
	if p, err := strconv.Atoi(u.Port()); err == nil {
		port = p
	}
	return u.Hostname(), int32(port)
}
