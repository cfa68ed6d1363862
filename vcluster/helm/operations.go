package helm

import (
	"context"
	"errors"
	"fmt"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/vcluster"
)

// Rollback rolls the release back to revision (0: the previous one).
func (p *Provisioner) Rollback(ctx context.Context, vc *vcluster.VirtualCluster, revision int) error {
	ns, name := vc.EffectiveHostNamespace(), ReleaseName(vc)
	defer p.lock(ns + "/" + name)()
	cfg, err := p.actionConfig(ctx, ns)
	if err != nil {
		return err
	}
	rel, err := current(cfg, name)
	if err != nil {
		return err
	}
	if rel == nil {
		return fmt.Errorf("%w: no release %s in %s", vcluster.ErrNotFound, name, ns)
	}
	if !ownedBy(rel, vc) {
		return conflict(vc, rel)
	}
	rb := action.NewRollback(cfg)
	rb.Version, rb.Timeout, rb.MaxHistory = revision, p.opts.Timeout, p.opts.MaxHistory
	if err := rb.Run(name); err != nil {
		return fmt.Errorf("helm: rolling back %s: %w", name, err)
	}
	return nil
}

// Revision is one entry of a release's history.
type Revision struct {
	Number int
	Status string
	// Values the revision was installed with (identity values included).
	Values map[string]any
}

// History returns the release's revisions, oldest first.
func (p *Provisioner) History(ctx context.Context, vc *vcluster.VirtualCluster) ([]Revision, error) {
	cfg, err := p.actionConfig(ctx, vc.EffectiveHostNamespace())
	if err != nil {
		return nil, err
	}
	rels, err := action.NewHistory(cfg).Run(ReleaseName(vc))
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return nil, fmt.Errorf("%w: no release %s", vcluster.ErrNotFound, ReleaseName(vc))
	}
	if err != nil {
		return nil, err
	}
	out := make([]Revision, 0, len(rels))
	for _, r := range rels {
		out = append(out, Revision{Number: r.Version, Status: r.Info.Status.String(), Values: r.Config})
	}
	return out, nil
}

// Pause scales the control plane to zero through an upgrade with
// sleeping=true; the store's volume stays. Idempotent.
func (p *Provisioner) Pause(ctx context.Context, vc *vcluster.VirtualCluster) error {
	return p.setSleeping(ctx, vc, true)
}

// Resume scales the control plane back to one replica and waits (up to
// Options.Timeout) until it is ready. Idempotent.
func (p *Provisioner) Resume(ctx context.Context, vc *vcluster.VirtualCluster) error {
	if err := p.setSleeping(ctx, vc, false); err != nil {
		return err
	}
	deadline := time.Now().Add(p.opts.Timeout)
	for {
		ok, msg, err := p.ready(ctx, vc)
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("helm: %s not ready after %s: %s", ReleaseName(vc), p.opts.Timeout, msg)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (p *Provisioner) setSleeping(ctx context.Context, vc *vcluster.VirtualCluster, sleeping bool) error {
	ns, name := vc.EffectiveHostNamespace(), ReleaseName(vc)
	defer p.lock(ns + "/" + name)()
	cfg, err := p.actionConfig(ctx, ns)
	if err != nil {
		return err
	}
	rel, err := current(cfg, name)
	if err != nil {
		return err
	}
	if rel == nil {
		return fmt.Errorf("%w: no release %s in %s", vcluster.ErrNotFound, name, ns)
	}
	if !ownedBy(rel, vc) {
		return conflict(vc, rel)
	}
	if s, _ := rel.Config["sleeping"].(bool); s == sleeping && rel.Info.Status == release.StatusDeployed {
		return nil
	}
	vals := deepCopy(rel.Config)
	vals["sleeping"] = sleeping
	up := action.NewUpgrade(cfg)
	up.Namespace, up.Timeout, up.MaxHistory = ns, p.opts.Timeout, p.opts.MaxHistory
	if _, err := up.RunWithContext(ctx, name, rel.Chart, vals); err != nil {
		return fmt.Errorf("helm: setting sleeping=%v on %s: %w", sleeping, name, err)
	}
	return nil
}

// Health reports the containers of the control-plane pod. On a host whose
// nodes run no containers (KWOK) it reports what the kubelet stand-in
// claims.
func (p *Provisioner) Health(ctx context.Context, vc *vcluster.VirtualCluster) (vcluster.Health, error) {
	ns, name := vc.EffectiveHostNamespace(), ReleaseName(vc)
	cfg, err := p.actionConfig(ctx, ns)
	if err != nil {
		return vcluster.Health{}, err
	}
	rel, err := current(cfg, name)
	if err != nil {
		return vcluster.Health{}, err
	}
	if rel == nil {
		return vcluster.Health{}, fmt.Errorf("%w: no release %s in %s", vcluster.ErrNotFound, name, ns)
	}
	if !ownedBy(rel, vc) {
		return vcluster.Health{}, conflict(vc, rel)
	}
	if s, _ := rel.Config["sleeping"].(bool); s {
		return vcluster.Health{Sleeping: true}, nil
	}
	var pod corev1.Pod
	if err := p.host.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-0"}, &pod); err != nil {
		if apierrors.IsNotFound(err) {
			return vcluster.Health{Components: []vcluster.ComponentHealth{{Name: "pod " + name + "-0", Message: "not created"}}}, nil
		}
		return vcluster.Health{}, err
	}
	h := vcluster.Health{Ready: true}
	for _, c := range pod.Spec.Containers {
		ch := vcluster.ComponentHealth{Name: c.Name, Message: "no status"}
		for _, cs := range pod.Status.ContainerStatuses {
			if cs.Name != c.Name {
				continue
			}
			switch {
			case cs.State.Running != nil && cs.Ready:
				ch.Running, ch.Message = true, ""
			case cs.State.Terminated != nil:
				ch.Message = fmt.Sprintf("terminated: %s (exit %d), %d restarts", cs.State.Terminated.Reason, cs.State.Terminated.ExitCode, cs.RestartCount)
			case cs.State.Waiting != nil:
				ch.Message = "waiting: " + cs.State.Waiting.Reason
			default:
				ch.Message = "not ready"
			}
		}
		if !ch.Running {
			h.Ready = false
		}
		h.Components = append(h.Components, ch)
	}
	return h, nil
}
