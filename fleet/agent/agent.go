// Package agent is the fleet agent: it runs inside a member cluster and
// connects out to the management API, so a cluster the management side
// cannot dial (behind NAT, a firewall) can still be registered and used.
//
// It registers its Cluster (spec.connection Agent), reports heartbeats
// with the cluster's nodes and capacity, runs the cluster's fleet.Member
// (which copies the tenant tree and what is placed on the cluster in, and
// status back out) and, when asked, its fleet.Quota webhook. Every call it
// makes goes from the member cluster to the management API; nothing ever
// connects to it.
//
// When the link is cut, heartbeats stop and the management side marks the
// Cluster Unreachable after its grace period; the agent keeps retrying,
// changes nothing in its cluster meanwhile (it deletes only on a complete
// read of the management API), and its first successful pass after the
// link returns converges.
package agent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/fleet"
)

// Options configure an Agent.
type Options struct {
	// Cluster is the name the cluster registers under; required.
	Cluster string
	// Management reaches the management API (the outgoing link); required.
	Management *rest.Config
	// Host reaches the cluster the agent runs in; required.
	Host *rest.Config
	// Labels and Class are set on the Cluster when the agent registers it.
	Labels map[string]string
	Class  string
	// Interval between heartbeats and between Member passes; zero means
	// 10 s. Keep it well below the management side's HeartbeatGrace.
	Interval time.Duration
	// Quota, when set, also runs the fleet quota webhook for the cluster
	// (its Cluster, Host and Management fields are filled in).
	Quota *fleet.Quota
}

// Agent is a running fleet agent. Create it with New.
type Agent struct {
	opts Options
	mgmt client.Client
	host client.Client
}

// New checks opts and builds the clients; nothing runs until Start.
func New(opts Options) (*Agent, error) {
	switch {
	case opts.Cluster == "":
		return nil, errors.New("agent.Options.Cluster: required")
	case opts.Management == nil:
		return nil, errors.New("agent.Options.Management: required")
	case opts.Host == nil:
		return nil, errors.New("agent.Options.Host: required")
	}
	if opts.Interval == 0 {
		opts.Interval = 10 * time.Second
	}
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := fleet.AddToSchemes(s); err != nil {
		return nil, err
	}
	mgmt, err := client.New(opts.Management, client.Options{Scheme: s})
	if err != nil {
		return nil, fmt.Errorf("agent: management client: %w", err)
	}
	host, err := client.New(opts.Host, client.Options{Scheme: s})
	if err != nil {
		return nil, fmt.Errorf("agent: host client: %w", err)
	}
	return &Agent{opts: opts, mgmt: mgmt, host: host}, nil
}

// Start registers the cluster and runs until ctx ends (a
// manager.Runnable). A failed registration or heartbeat is retried every
// Interval; only a Cluster of that name registered for another connection
// mode (Credential) stops it, with an error naming spec.connection.
func (a *Agent) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithValues("cluster", a.opts.Cluster)
	for {
		err := a.register(ctx)
		if err == nil {
			break
		}
		if errors.Is(err, errWrongMode) {
			return err
		}
		log.Info("fleet agent: registering failed, retrying", "error", err.Error())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(a.opts.Interval):
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	member := &fleet.Member{Cluster: a.opts.Cluster, Management: a.mgmt, Host: a.host, Interval: a.opts.Interval}
	wg.Go(func() { errs <- member.Start(ctx) })
	if q := a.opts.Quota; q != nil {
		q.Cluster, q.Host, q.Management = a.opts.Cluster, a.opts.Host, a.mgmt
		wg.Go(func() { errs <- q.Start(ctx) })
	}
	t := time.NewTicker(a.opts.Interval)
	defer t.Stop()
	for {
		if err := a.Heartbeat(ctx); err != nil && ctx.Err() == nil {
			log.Info("fleet agent: heartbeat failed, retrying", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			wg.Wait()
			close(errs)
			var all []error
			for err := range errs {
				all = append(all, err)
			}
			return errors.Join(all...)
		case <-t.C:
		}
	}
}

var errWrongMode = errors.New("registered for another connection mode")

// register creates the Cluster, or takes over one registered for agents.
func (a *Agent) register(ctx context.Context) error {
	c := &fleet.Cluster{}
	err := a.mgmt.Get(ctx, client.ObjectKey{Name: a.opts.Cluster}, c)
	switch {
	case apierrors.IsNotFound(err):
		c = &fleet.Cluster{
			ObjectMeta: metav1.ObjectMeta{Name: a.opts.Cluster, Labels: maps.Clone(a.opts.Labels)},
			Spec:       fleet.ClusterSpec{Connection: fleet.ConnectionAgent, Class: a.opts.Class},
		}
		return a.mgmt.Create(ctx, c)
	case err != nil:
		return err
	case c.Spec.Connection != fleet.ConnectionAgent:
		return fmt.Errorf("agent: cluster %s: spec.connection is %q, not Agent: %w", a.opts.Cluster, c.Spec.Connection, errWrongMode)
	}
	if len(a.opts.Labels) == 0 {
		return nil
	}
	patch := client.MergeFrom(c.DeepCopy())
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	maps.Copy(c.Labels, a.opts.Labels)
	return a.mgmt.Patch(ctx, c, patch)
}

// Heartbeat observes the cluster and reports it on its Cluster's status.
func (a *Agent) Heartbeat(ctx context.Context) error {
	obs, err := fleet.Observe(ctx, a.opts.Host)
	if err != nil {
		return err
	}
	c := &fleet.Cluster{}
	if err := a.mgmt.Get(ctx, client.ObjectKey{Name: a.opts.Cluster}, c); err != nil {
		return err
	}
	obs.Apply(c)
	return a.mgmt.Status().Update(ctx, c)
}
