package main

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/local"
)

// ErrPolicy is wrapped by every refusal of the platform's policy.
var ErrPolicy = errors.New("refused by platform policy")

// Labels on the inventory ConfigMaps.
const (
	LabelInventory = "platform.example.com/inventory"
	LabelTenant    = "platform.example.com/tenant"
	annotationUID  = "platform.example.com/owner-uid"
)

// Options configure an Inventory provisioner.
type Options struct {
	// Host is a client for the host cluster. Required.
	Host client.Client
	// Namespace holds the inventory ConfigMaps; it must exist. Required.
	Namespace string
	// RequiredLabels must be set, non-empty, on every VirtualCluster; they
	// are copied onto its inventory entry.
	RequiredLabels []string
	// MaxPerTenant caps the control planes of one tenant; zero means no cap.
	MaxPerTenant int
}

// Inventory is the local provisioner with the platform's policies and an
// inventory around it.
type Inventory struct {
	*local.Provisioner // Deprovision, Kubeconfig, Pause, Resume, Health, UserKubeconfig…
	opts               Options
}

var _ vcluster.Provisioner = (*Inventory)(nil)
var _ vcluster.Sleeper = (*Inventory)(nil)

// NewInventory wraps lp.
func NewInventory(lp *local.Provisioner, o Options) (*Inventory, error) {
	if lp == nil || o.Host == nil || o.Namespace == "" {
		return nil, errors.New("provisioner: NewInventory needs a local provisioner, Options.Host and Options.Namespace")
	}
	return &Inventory{Provisioner: lp, opts: o}, nil
}

// entry names the inventory ConfigMap of a control plane (host namespace
// and name identify one; both are DNS labels, so the dot cannot collide).
func (p *Inventory) entry(vc *vcluster.VirtualCluster) client.ObjectKey {
	return client.ObjectKey{Namespace: p.opts.Namespace, Name: vc.EffectiveHostNamespace() + "." + vc.Name}
}

// Provision checks the policies, delegates, and records the control plane.
func (p *Inventory) Provision(ctx context.Context, req vcluster.Request) (vcluster.Result, error) {
	vc := req.Cluster
	var errs field.ErrorList
	for _, l := range p.opts.RequiredLabels {
		if vc.Labels[l] == "" {
			errs = append(errs, field.Required(field.NewPath("metadata", "labels").Key(l), "the platform bills by this label"))
		}
	}
	if len(errs) > 0 {
		return vcluster.Result{}, fmt.Errorf("%w: %w", ErrPolicy, errs.ToAggregate())
	}
	var existing corev1.ConfigMap
	err := p.opts.Host.Get(ctx, p.entry(vc), &existing)
	if apierrors.IsNotFound(err) && p.opts.MaxPerTenant > 0 {
		var l corev1.ConfigMapList
		if err := p.opts.Host.List(ctx, &l, client.InNamespace(p.opts.Namespace), client.MatchingLabels{LabelTenant: vc.Spec.Tenant}); err != nil {
			return vcluster.Result{}, fmt.Errorf("reading the inventory: %w", err)
		}
		if len(l.Items) >= p.opts.MaxPerTenant {
			return vcluster.Result{}, fmt.Errorf("%w: tenant %q already has %d of at most %d virtual clusters", ErrPolicy, vc.Spec.Tenant, len(l.Items), p.opts.MaxPerTenant)
		}
	} else if client.IgnoreNotFound(err) != nil {
		return vcluster.Result{}, fmt.Errorf("reading the inventory: %w", err)
	}
	res, err := p.Provisioner.Provision(ctx, req)
	if err != nil || !res.Ready {
		return res, err
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: p.entry(vc).Name, Namespace: p.opts.Namespace,
		Labels:      map[string]string{LabelInventory: "true", LabelTenant: vc.Spec.Tenant},
		Annotations: map[string]string{annotationUID: string(vc.UID)}},
		Data: map[string]string{"namespace": vc.Namespace, "name": vc.Name, "endpoint": res.Endpoint, "kubernetesVersion": res.KubernetesVersion}}
	for _, l := range p.opts.RequiredLabels {
		cm.Labels[l] = vc.Labels[l]
	}
	if err := p.opts.Host.Create(ctx, cm); err != nil && !apierrors.IsAlreadyExists(err) {
		return vcluster.Result{}, fmt.Errorf("recording %s in the inventory: %w", vc.Name, err)
	}
	return res, nil
}

// Deprovision delegates, then removes the inventory entry if this
// VirtualCluster owns it (a refused second claimant must not remove the
// first one's).
func (p *Inventory) Deprovision(ctx context.Context, vc *vcluster.VirtualCluster) error {
	if err := p.Provisioner.Deprovision(ctx, vc); err != nil {
		return err
	}
	var cm corev1.ConfigMap
	if err := p.opts.Host.Get(ctx, p.entry(vc), &cm); err != nil {
		return client.IgnoreNotFound(err)
	}
	if cm.Annotations[annotationUID] != string(vc.UID) {
		return nil
	}
	return client.IgnoreNotFound(p.opts.Host.Delete(ctx, &cm, client.Preconditions{ResourceVersion: &cm.ResourceVersion}))
}
