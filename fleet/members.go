package fleet

import (
	"context"
	"errors"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CredentialMembers runs, on the management side, a Member (and
// optionally a Quota) for every Cluster reached by a credential, through
// the kubeconfig of its Secret: the management side's counterpart of the
// agent. A member starts when its Cluster appears and stops when it is
// deleted; deleting a Cluster stops the work for it and deletes nothing in
// it.
type CredentialMembers struct {
	// Management is a client of the management API; required.
	Management client.Client
	// Interval between looks at the Clusters, and the Members' interval;
	// zero means 10 s.
	Interval time.Duration
	// Quota, when set, returns the Quota to run for a cluster (its
	// Cluster, Host and Management are filled in); nil runs none.
	Quota func(cluster string) *Quota
}

// Start runs until ctx ends (a manager.Runnable).
func (m *CredentialMembers) Start(ctx context.Context) error {
	if m.Management == nil {
		return errors.New("fleet.CredentialMembers.Management: required")
	}
	interval := m.Interval
	if interval == 0 {
		interval = 10 * time.Second
	}
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return err
	}
	if err := AddToSchemes(s); err != nil {
		return err
	}
	log := ctrl.LoggerFrom(ctx)
	var wg sync.WaitGroup
	running := map[string]context.CancelFunc{}
	defer func() {
		for _, cancel := range running {
			cancel()
		}
		wg.Wait()
	}()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		var clusters ClusterList
		if err := m.Management.List(ctx, &clusters); err != nil {
			log.Info("fleet: listing clusters failed", "error", err.Error())
		} else {
			seen := map[string]bool{}
			for i := range clusters.Items {
				c := &clusters.Items[i]
				if c.Spec.Connection != ConnectionCredential || c.DeletionTimestamp != nil {
					continue
				}
				seen[c.Name] = true
				if running[c.Name] != nil {
					continue
				}
				cfg, err := CredentialConfig(ctx, m.Management, c)
				if err != nil {
					log.Info("fleet: cluster credential", "cluster", c.Name, "error", err.Error())
					continue
				}
				host, err := client.New(cfg, client.Options{Scheme: s})
				if err != nil {
					log.Info("fleet: cluster credential", "cluster", c.Name, "error", err.Error())
					continue
				}
				cctx, cancel := context.WithCancel(ctx)
				running[c.Name] = cancel
				member := &Member{Cluster: c.Name, Management: m.Management, Host: host, Interval: interval}
				wg.Go(func() { _ = member.Start(cctx) })
				if m.Quota != nil {
					if q := m.Quota(c.Name); q != nil {
						q.Cluster, q.Host, q.Management = c.Name, cfg, m.Management
						wg.Go(func() {
							if err := q.Start(cctx); err != nil {
								log.Error(err, "fleet: quota", "cluster", q.Cluster)
							}
						})
					}
				}
			}
			for name, cancel := range running {
				if !seen[name] {
					cancel()
					delete(running, name)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
