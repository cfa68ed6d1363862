package builtin

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	psapi "k8s.io/pod-security-admission/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/resources/configmaps"
	"github.com/vclusterkit/vclusterkit/sync/resources/endpointslices"
	"github.com/vclusterkit/vclusterkit/sync/resources/events"
	"github.com/vclusterkit/vclusterkit/sync/resources/ingresses"
	"github.com/vclusterkit/vclusterkit/sync/resources/networkpolicies"
	"github.com/vclusterkit/vclusterkit/sync/resources/nodes"
	"github.com/vclusterkit/vclusterkit/sync/resources/persistentvolumeclaims"
	"github.com/vclusterkit/vclusterkit/sync/resources/poddisruptionbudgets"
	"github.com/vclusterkit/vclusterkit/sync/resources/pods"
	"github.com/vclusterkit/vclusterkit/sync/resources/secrets"
	"github.com/vclusterkit/vclusterkit/sync/resources/serviceaccounts"
	"github.com/vclusterkit/vclusterkit/sync/resources/services"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

// Options choose the built-in syncers. The zero value syncs pods (baseline
// Pod Security Standard), services, endpoint slices, referenced ConfigMaps
// and Secrets, persistent volume claims, pod disruption budgets, network
// policies, events and real nodes; service accounts and ingresses are
// opt-in.
type Options struct {
	// Pods configures the pod syncer.
	Pods pods.Options
	// AllConfigMaps and AllSecrets sync every object, not only referenced ones.
	AllConfigMaps, AllSecrets bool
	// PersistentVolumeClaims configures the claim syncer.
	PersistentVolumeClaims persistentvolumeclaims.Options
	// Nodes configures the node syncer.
	Nodes nodes.Options
	// ServiceAccounts enables the ServiceAccount syncer (and makes host
	// pods run as the synced accounts).
	ServiceAccounts bool
	// EndpointSlices configures the EndpointSlice syncer (its address
	// policy; the zero value denies the private ranges of
	// endpointslices.DefaultDeniedCIDRs unless an address is one of the
	// virtual cluster's own pod IPs).
	EndpointSlices endpointslices.Options
	// NetworkPolicies configures the NetworkPolicy syncer (the host
	// ranges no ipBlock may open; the zero value protects
	// networkpolicies.DefaultHostCIDRs).
	NetworkPolicies networkpolicies.Options
	// Ingresses enables the Ingress syncer with these options.
	Ingresses *ingresses.Options
	// Disable names built-in syncers to leave out ("events", "nodes", ...).
	Disable []string
}

// Names of the built-in syncers, in the order Syncers returns them.
var names = []string{"pods", "services", "endpointslices", "configmaps", "secrets", "persistentvolumeclaims", "poddisruptionbudgets", "networkpolicies", "serviceaccounts", "ingresses", "events", "nodes"}

// Names returns the names of every built-in syncer.
func Names() []string { return append([]string(nil), names...) }

// Syncers returns the chosen built-in syncers.
func Syncers(opts Options) ([]syncer.Syncer, error) {
	off := map[string]bool{}
	for _, n := range opts.Disable {
		found := false
		for _, k := range names {
			found = found || k == n
		}
		if !found {
			return nil, fmt.Errorf("builtin.Syncers: Options.Disable: unknown syncer %q (built-in: %v)", n, names)
		}
		off[n] = true
	}
	if opts.ServiceAccounts {
		opts.Pods.HostServiceAccounts = true
	}
	// Host pods are marked for the NetworkPolicies written inside the
	// virtual cluster only when those reach the host.
	opts.Pods.NetworkPolicyLabels = !off["networkpolicies"]
	if opts.Pods.PodSecurity == "" {
		opts.Pods.PodSecurity = psapi.LevelBaseline
	}
	ps, err := pods.New(opts.Pods)
	if err != nil {
		return nil, fmt.Errorf("builtin.Syncers: %w", err)
	}
	ns, err := nodes.New(opts.Nodes)
	if err != nil {
		return nil, fmt.Errorf("builtin.Syncers: %w", err)
	}
	es, err := endpointslices.New(opts.EndpointSlices)
	if err != nil {
		return nil, fmt.Errorf("builtin.Syncers: Options.EndpointSlices: %w", err)
	}
	nps, err := networkpolicies.New(opts.NetworkPolicies)
	if err != nil {
		return nil, fmt.Errorf("builtin.Syncers: Options.NetworkPolicies: %w", err)
	}
	all := map[string]syncer.Syncer{
		"pods":                   ps,
		"services":               services.New(),
		"endpointslices":         es,
		"configmaps":             configmaps.New(configmaps.Options{All: opts.AllConfigMaps}),
		"secrets":                secrets.New(secrets.Options{All: opts.AllSecrets}),
		"persistentvolumeclaims": persistentvolumeclaims.New(opts.PersistentVolumeClaims),
		"poddisruptionbudgets":   poddisruptionbudgets.New(),
		"networkpolicies":        nps,
		"events":                 events.New(),
		"nodes":                  ns,
	}
	if opts.ServiceAccounts {
		all["serviceaccounts"] = serviceaccounts.New()
	}
	if opts.Ingresses != nil {
		all["ingresses"] = ingresses.New(*opts.Ingresses)
	}
	var out []syncer.Syncer
	for _, n := range names {
		if s, ok := all[n]; ok && !off[n] {
			out = append(out, s)
		}
	}
	return out, nil
}

// HostOptions returns the host kinds the built-in syncers read without the
// managed-label filter (Events and Nodes), for syncer.HostOptions.Unfiltered.
func HostOptions() []client.Object {
	return []client.Object{&corev1.Event{}, &corev1.Node{}}
}
