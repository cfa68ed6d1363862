package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// LabelLeader is set to "true" on the operator Pod that holds the leader
// Lease. The chart's webhook Service selects it: the quota ledger lives in
// the leader's memory, so only the leader may answer admission requests.
const LabelLeader = "operator.vclusterkit.io/leader"

// leaderLabeler keeps LabelLeader on this replica's own Pod in step with
// leadership: removed at start (a restarted container may have lost the
// lease), set once elected, removed again on shutdown.
type leaderLabeler struct {
	c              client.Client
	namespace, pod string
	elected        <-chan struct{}
}

var _ manager.LeaderElectionRunnable = (*leaderLabeler)(nil)

func newLeaderLabeler(cfg *rest.Config, namespace, pod string) (*leaderLabeler, error) {
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return nil, fmt.Errorf("leader label client: %w", err)
	}
	return &leaderLabeler{c: c, namespace: namespace, pod: pod}, nil
}

// NeedLeaderElection is false: the label must be cleared before this
// replica becomes leader, so the runnable starts on every replica.
func (l *leaderLabeler) NeedLeaderElection() bool { return false }

// Start clears the label, waits for leadership, sets it, and clears it
// again when ctx ends.
func (l *leaderLabeler) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithValues("pod", l.namespace+"/"+l.pod)
	if err := l.set(ctx, false); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return nil
	case <-l.elected:
	}
	if err := l.set(ctx, true); err != nil {
		return err
	}
	log.Info("elected leader; labelled own pod", "label", LabelLeader)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.set(sctx, false); err != nil {
		log.Error(err, "removing the leader label on shutdown")
	}
	return nil
}

func (l *leaderLabeler) set(ctx context.Context, leader bool) error {
	var v any // JSON null deletes the label
	if leader {
		v = "true"
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]any{LabelLeader: v}}})
	if err != nil {
		return err
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: l.namespace, Name: l.pod}}
	if err := l.c.Patch(ctx, pod, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("labelling own pod %s/%s (POD_NAME, POD_NAMESPACE): %w", l.namespace, l.pod, err)
	}
	return nil
}
