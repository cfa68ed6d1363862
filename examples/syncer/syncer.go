package main

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

// BackupSyncer syncs Backups from the virtual cluster to the host: the
// whole job of a syncer is to say what the host copy looks like (ToHost)
// and what flows back (ToVirtual). The engine does the rest — names,
// ownership marks, create/update/delete, garbage collection, conflicts,
// metrics and events.
type BackupSyncer struct{}

// The engine detects optional capabilities by type assertion; this
// syncer needs none. Compile-time check that it is a Syncer:
var _ syncer.Syncer = BackupSyncer{}

// Name names the controller and metric labels.
func (BackupSyncer) Name() string { return "backups" }

// New returns an empty Backup; the engine uses it on both sides.
func (BackupSyncer) New() client.Object { return &Backup{} }

// ToHost translates references into the tenant's host namespace and scopes
// the selector. Refusing is returning syncer.Refuse(...): the engine then
// records a SyncRefused event on the virtual Backup and writes nothing.
func (BackupSyncer) ToHost(_ context.Context, sc *syncer.Context, obj client.Object) (client.Object, error) {
	v := obj.(*Backup)
	if v.Spec.Schedule == "" {
		return nil, syncer.Refuse("InvalidBackup", "spec.schedule is required")
	}
	h := &Backup{Spec: *(&v.Spec).DeepCopyObjectSpec()}
	if h.Spec.CredentialsSecret != "" {
		h.Spec.CredentialsSecret = sc.Translator.HostName(v.Spec.CredentialsSecret, v.Namespace)
	}
	sel, err := sc.Translator.ScopeSelector(field.NewPath("spec", "selector"), v.Namespace, v.Spec.Selector)
	if err != nil {
		return nil, syncer.Refuse("InvalidBackup", "%v", err)
	}
	h.Spec.Selector = sel
	return h, nil
}

// ToVirtual copies the operator's status back to the tenant's Backup.
func (BackupSyncer) ToVirtual(ctx context.Context, sc *syncer.Context, obj, hostObj client.Object) (syncer.Result, error) {
	v, h := obj.(*Backup), hostObj.(*Backup)
	if v.Status == h.Status {
		return syncer.Result{}, nil
	}
	nv := v.DeepCopyObject().(*Backup)
	nv.Status = h.Status
	if err := sc.Virtual.Status().Update(ctx, nv); err != nil {
		return syncer.Result{}, fmt.Errorf("update virtual backup status: %w", err)
	}
	return syncer.Result{}, nil
}

// DeepCopyObjectSpec returns a deep copy of the spec.
func (s *BackupSpec) DeepCopyObjectSpec() *BackupSpec {
	out := *s
	out.Selector = s.Selector.DeepCopy()
	return &out
}
