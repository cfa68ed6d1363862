package virtualcluster

import (
	"context"
	"net"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/dns"
)

// hostDNSService is where a host cluster's DNS is found, in kubeadm
// clusters and most others.
var hostDNSService = client.ObjectKey{Namespace: "kube-system", Name: "kube-dns"}

// dnsReapplyResyncs is how many resyncs pass before the DNS objects are
// applied again although nothing about them changed (two minutes at the
// default 30 s resync): what puts back a tenant's edit or deletion.
// Applying at every resync would cost a client and seven requests per
// virtual cluster each time.
const dnsReapplyResyncs = 4

// dnsApplied remembers, per virtual cluster (syncKey), what was applied
// last and when.
type dnsApplied struct {
	every time.Duration
	mu    sync.Mutex
	last  map[string]dnsMark
}

type dnsMark struct {
	upstreams string
	uid       string
	at        time.Time
}

// dns applies the virtual cluster's own DNS inside it (vcluster/dns). With
// no upstreams configured, outside names go to the host cluster's DNS
// Service, so they resolve inside a virtual cluster as they do for the
// host's pods; a host without one leaves the node's resolvers. It applies
// when the upstreams or the VirtualCluster (by UID) changed, and every
// dnsReapplyResyncs resyncs.
func (r *Reconciler) dns(ctx context.Context, vc *vcluster.VirtualCluster) error {
	if r.DNS.Disabled {
		return nil
	}
	o := r.DNS
	if len(o.Upstreams) == 0 {
		up, err := r.hostDNS(ctx)
		if err != nil {
			return err
		}
		o.Upstreams = up
	}
	key, mark := syncKey(vc), dnsMark{upstreams: strings.Join(o.Upstreams, " "), uid: string(vc.UID)}
	r.dnsApplied.mu.Lock()
	prev, ok := r.dnsApplied.last[key]
	r.dnsApplied.mu.Unlock()
	if ok && prev.upstreams == mark.upstreams && prev.uid == mark.uid && time.Since(prev.at) < r.dnsApplied.every {
		return nil
	}
	vcl, err := r.virtualClient(ctx, vc)
	if err != nil {
		return err
	}
	if err := dns.Apply(ctx, vcl, o); err != nil {
		return err
	}
	mark.at = time.Now()
	r.dnsApplied.mu.Lock()
	if r.dnsApplied.last == nil {
		r.dnsApplied.last = map[string]dnsMark{}
	}
	r.dnsApplied.last[key] = mark
	r.dnsApplied.mu.Unlock()
	return nil
}

// forgetDNS drops what dns remembers of vc: after a sleep, a restore or a
// deletion the next apply happens at once.
func (r *Reconciler) forgetDNS(vc *vcluster.VirtualCluster) {
	r.dnsApplied.mu.Lock()
	delete(r.dnsApplied.last, syncKey(vc))
	r.dnsApplied.mu.Unlock()
}

func (r *Reconciler) hostDNS(ctx context.Context) ([]string, error) {
	var svc corev1.Service
	err := r.Client.Get(ctx, hostDNSService, &svc)
	switch {
	case apierrors.IsNotFound(err):
		return []string{dns.ResolvConf}, nil
	case err != nil:
		return nil, err
	}
	var out []string
	for _, ip := range svc.Spec.ClusterIPs {
		if net.ParseIP(ip) != nil {
			out = append(out, ip)
		}
	}
	if len(out) == 0 {
		return []string{dns.ResolvConf}, nil
	}
	return out, nil
}
