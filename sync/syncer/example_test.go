package syncer_test

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

// labelSyncer is the smallest useful Syncer: ConfigMaps, refused when
// they lack a label.
type labelSyncer struct{}

func (labelSyncer) Name() string       { return "configmaps" }
func (labelSyncer) New() client.Object { return &corev1.ConfigMap{} }
func (labelSyncer) ToHost(_ context.Context, _ *syncer.Context, obj client.Object) (client.Object, error) {
	v := obj.(*corev1.ConfigMap)
	if v.Labels["team"] == "" {
		return nil, syncer.Refuse("MissingTeam", "configmap %s has no team label", v.Name)
	}
	return &corev1.ConfigMap{Data: v.Data}, nil
}
func (labelSyncer) ToVirtual(context.Context, *syncer.Context, client.Object, client.Object) (syncer.Result, error) {
	return syncer.Result{}, nil
}

// A Syncer refuses an object by returning syncer.Refuse; the engine turns
// it into a SyncRefused event on the virtual object.
func ExampleRefuse() {
	_, err := labelSyncer{}.ToHost(context.Background(), nil, &corev1.ConfigMap{})
	var refusal *syncer.RefusedError
	fmt.Println(errors.Is(err, syncer.ErrRefused), errors.As(err, &refusal), refusal.Reason)
	// Output: true true MissingTeam
}

// Wiring: one Host per process, one Engine per virtual cluster.
func ExampleNew() {
	run := func(ctx context.Context, hostCfg, virtualCfg *rest.Config) error {
		host, err := syncer.NewHost(hostCfg, syncer.HostOptions{Namespaces: []string{"team-a"}})
		if err != nil {
			return err
		}
		eng, err := syncer.New(host, virtualCfg, syncer.Options{Name: "dev", HostNamespace: "team-a", Syncers: []syncer.Syncer{labelSyncer{}}})
		if err != nil {
			return err
		}
		go func() { _ = host.Start(ctx) }()
		return eng.Start(ctx)
	}
	_ = run
}
