package serviceaccounts

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

// Syncer syncs ServiceAccounts to the host, for platforms that attach host
// identities (cloud IAM annotations) to them. Host copies never get tokens
// mounted: pods keep using tokens of the virtual cluster (see package pods,
// Options.HostServiceAccounts). The zero value is ready to use.
type Syncer struct{}

var _ syncer.Syncer = (*Syncer)(nil)

// New returns a ServiceAccount syncer.
func New() *Syncer { return &Syncer{} }

// Name implements syncer.Syncer.
func (*Syncer) Name() string { return "serviceaccounts" }

// New implements syncer.Syncer.
func (*Syncer) New() client.Object { return &corev1.ServiceAccount{} }

// ToHost implements syncer.Syncer.
func (*Syncer) ToHost(_ context.Context, sc *syncer.Context, obj client.Object) (client.Object, error) {
	return ToHost(sc.Translator.HostName, obj.(*corev1.ServiceAccount)), nil
}

// ToHost returns the host copy's content: no token automount, image pull
// secrets translated, no token secrets.
func ToHost(hostName func(name, namespace string) string, v *corev1.ServiceAccount) *corev1.ServiceAccount {
	no := false
	h := &corev1.ServiceAccount{AutomountServiceAccountToken: &no}
	for _, s := range v.ImagePullSecrets {
		h.ImagePullSecrets = append(h.ImagePullSecrets, corev1.LocalObjectReference{Name: hostName(s.Name, v.Namespace)})
	}
	return h
}

// ToVirtual implements syncer.Syncer; nothing flows back.
func (*Syncer) ToVirtual(context.Context, *syncer.Context, client.Object, client.Object) (syncer.Result, error) {
	return syncer.Result{}, nil
}
