package pods

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

// How soon a pod waiting for what it mounts is tried again: soon when the
// virtual object exists (its syncer is about to copy it), less often when
// it does not exist at all yet.
const (
	waitHostCopy = 250 * time.Millisecond
	waitVirtual  = 2 * time.Second
)

// RequiredObjects returns the ConfigMaps and Secrets of a virtual pod's
// namespace that must exist before its containers can start: those its
// volumes (plain and projected) and environment reference without
// optional: true. The kubelet fails to mount or to start a container
// without them, and retries with FailedMount events until they appear.
func RequiredObjects(p *corev1.Pod) (configMaps, secrets []string) {
	seen := map[string]bool{}
	add := func(list *[]string, kind, n string, optional *bool) {
		if n == "" || (optional != nil && *optional) || seen[kind+"/"+n] {
			return
		}
		seen[kind+"/"+n] = true
		*list = append(*list, n)
	}
	for _, vol := range p.Spec.Volumes {
		switch {
		case vol.ConfigMap != nil:
			add(&configMaps, "c", vol.ConfigMap.Name, vol.ConfigMap.Optional)
		case vol.Secret != nil:
			add(&secrets, "s", vol.Secret.SecretName, vol.Secret.Optional)
		case vol.Projected != nil:
			for _, src := range vol.Projected.Sources {
				if src.ConfigMap != nil {
					add(&configMaps, "c", src.ConfigMap.Name, src.ConfigMap.Optional)
				}
				if src.Secret != nil {
					add(&secrets, "s", src.Secret.Name, src.Secret.Optional)
				}
			}
		}
	}
	for _, list := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, c := range list {
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
					add(&configMaps, "c", e.ValueFrom.ConfigMapKeyRef.Name, e.ValueFrom.ConfigMapKeyRef.Optional)
				}
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					add(&secrets, "s", e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Optional)
				}
			}
			for _, e := range c.EnvFrom {
				if e.ConfigMapRef != nil {
					add(&configMaps, "c", e.ConfigMapRef.Name, e.ConfigMapRef.Optional)
				}
				if e.SecretRef != nil {
					add(&secrets, "s", e.SecretRef.Name, e.SecretRef.Optional)
				}
			}
		}
	}
	return configMaps, secrets
}

// ensureMounts holds the host pod back (syncer.Wait) until the host copies
// of the ConfigMaps and Secrets it requires exist, and writes its token
// Secret first, so the kubelet never sees a pod whose volumes it cannot
// mount.
func (s *Syncer) ensureMounts(ctx context.Context, sc *syncer.Context, v *corev1.Pod) error {
	cms, secs := RequiredObjects(v)
	tr := sc.Translator
	check := func(kind, name string, host, virtual ctrl.Object) error {
		key := types.NamespacedName{Namespace: tr.HostNamespace(), Name: tr.HostName(name, v.Namespace)}
		err := sc.Host.Get(ctx, key, host)
		if err == nil {
			return nil
		}
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("host %s %s: %w", kind, key, err)
		}
		verr := sc.Virtual.Get(ctx, types.NamespacedName{Namespace: v.Namespace, Name: name}, virtual)
		switch {
		case verr == nil:
			return syncer.Wait(waitHostCopy, "%s %s/%s is not on the host yet", kind, v.Namespace, name)
		case apierrors.IsNotFound(verr):
			return syncer.Wait(waitVirtual, "%s %s/%s does not exist", kind, v.Namespace, name)
		default:
			return fmt.Errorf("virtual %s %s/%s: %w", kind, v.Namespace, name, verr)
		}
	}
	if _, err := s.ensureTokens(ctx, sc, v, nil); err != nil {
		return fmt.Errorf("service account token: %w", err)
	}
	for _, n := range cms {
		if err := check("ConfigMap", n, &corev1.ConfigMap{}, &corev1.ConfigMap{}); err != nil {
			return err
		}
	}
	for _, n := range secs {
		if err := check("Secret", n, &corev1.Secret{}, &corev1.Secret{}); err != nil {
			return err
		}
	}
	return nil
}
