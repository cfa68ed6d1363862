package kubestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/quota"
)

// DataKey is the ConfigMap key holding the entries as JSON.
const DataKey = "entries.json"

// ConfigMapStore is a quota.Store in one ConfigMap. Namespace and Name are required; the
// client needs get, create and update on configmaps there.
type ConfigMapStore struct {
	Client    client.Client
	Namespace string
	Name      string
}

var _ quota.Store = (*ConfigMapStore)(nil)

func (s *ConfigMapStore) check() error {
	switch {
	case s.Client == nil:
		return errors.New("kubestore: ConfigMapStore.Client is required")
	case s.Namespace == "" || s.Name == "":
		return errors.New("kubestore: ConfigMapStore.Namespace and .Name are required")
	}
	return nil
}

// Load implements quota.Store. A missing ConfigMap is an empty ledger at version "".
func (s *ConfigMapStore) Load(ctx context.Context) ([]quota.Entry, string, error) {
	if err := s.check(); err != nil {
		return nil, "", err
	}
	var cm corev1.ConfigMap
	if err := s.Client.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: s.Name}, &cm); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, "", nil
		}
		return nil, "", fmt.Errorf("kubestore: %w", err)
	}
	var entries []quota.Entry
	if raw := cm.Data[DataKey]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &entries); err != nil {
			return nil, "", fmt.Errorf("kubestore: configmap %s/%s data[%s]: %w", s.Namespace, s.Name, DataKey, err)
		}
	}
	return entries, cm.ResourceVersion, nil
}

// Save implements quota.Store: an update conditioned on version (a create for ""), with
// the API server's conflict mapped to quota.ErrConflict.
func (s *ConfigMapStore) Save(ctx context.Context, entries []quota.Entry, version string) (string, error) {
	if err := s.check(); err != nil {
		return "", err
	}
	raw, err := json.Marshal(entries)
	if err != nil {
		return "", fmt.Errorf("kubestore: %w", err)
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: s.Name, ResourceVersion: version,
			Labels: map[string]string{"app.kubernetes.io/managed-by": "vclusterkit"}},
		Data: map[string]string{DataKey: string(raw)},
	}
	if version == "" {
		err = s.Client.Create(ctx, cm)
	} else {
		err = s.Client.Update(ctx, cm)
	}
	switch {
	case apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err):
		return "", fmt.Errorf("kubestore: %w", quota.ErrConflict)
	case err != nil:
		return "", fmt.Errorf("kubestore: %w", err)
	}
	return cm.ResourceVersion, nil
}
