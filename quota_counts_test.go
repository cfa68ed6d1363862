package vclusterkit_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// webhookCounts reports whether the engine's quota webhook is registered for
// creates of resource in the core group.
func webhookCounts(ctx context.Context, res string) (bool, string) {
	var cfg admissionregistrationv1.ValidatingWebhookConfiguration
	if err := hostC.Get(ctx, client.ObjectKey{Name: "vclusterkit-quota"}, &cfg); err != nil {
		return false, err.Error()
	}
	var rules []string
	for _, w := range cfg.Webhooks {
		for _, r := range w.Rules {
			rules = append(rules, fmt.Sprint(r.APIGroups, r.Resources, r.Operations))
			if slices.Contains(r.APIGroups, "") && slices.Contains(r.Resources, res) && slices.Contains(r.Operations, admissionregistrationv1.Create) {
				return true, ""
			}
		}
	}
	return false, fmt.Sprintf("rules %v", rules)
}

// TestObjectCountLimitFollowsTheTree: a tenant that limits count/secrets over
// its subtree gets that limit enforced on the host by the engine's webhook
// (registered for secrets only once some tenant counts them): concurrent
// creates across the spaces of the tenant and its child stop at exactly the
// limit; removing the limit unregisters secrets again.
func TestObjectCountLimitFollowsTheTree(t *testing.T) {
	host.LogsOnFailure(t)
	ctx := context.Background()
	createTenant(t, "tally", "", func(tn *tenancy.Tenant) {
		tn.Spec.Quota = corev1.ResourceList{"count/secrets": resource.MustParse("5")}
	})
	createTenant(t, "tally-dev", "tally")
	createSpace(t, "tally-a", "tally")
	createSpace(t, "tally-b", "tally-dev")
	for _, ns := range []string{"tally-a", "tally-b"} {
		eventually(t, 60*time.Second, "namespace "+ns, func(ctx context.Context) (bool, string) {
			var n corev1.Namespace
			err := hostC.Get(ctx, client.ObjectKey{Name: ns}, &n)
			return err == nil && n.Labels[tenancy.LabelTenant] != "", fmt.Sprint(err, n.Labels)
		})
	}
	eventually(t, 60*time.Second, "the quota webhook to count secrets", func(ctx context.Context) (bool, string) {
		return webhookCounts(ctx, "secrets")
	})
	// The API server reads webhook configurations from its own informer: wait
	// until a dry run over the limit of a tenant that admits none is refused.
	createTenant(t, "tally-none", "", func(tn *tenancy.Tenant) {
		tn.Spec.Quota = corev1.ResourceList{"count/secrets": resource.MustParse("0")}
	})
	createSpace(t, "tally-none", "tally-none")
	eventually(t, 60*time.Second, "the API server to send secret creates to the webhook", func(ctx context.Context) (bool, string) {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: "tally-none"}}
		err := hostC.Create(ctx, s, client.DryRunAll)
		return err != nil && strings.Contains(err.Error(), "count/secrets"), fmt.Sprint(err)
	})

	before := 0
	for _, ns := range []string{"tally-a", "tally-b"} {
		var l corev1.SecretList
		if err := hostC.List(ctx, &l, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		before += len(l.Items)
	}
	var created, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			ns := []string{"tally-a", "tally-b"}[i%2]
			err := hostC.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("s-%d", i), Namespace: ns}})
			switch {
			case err == nil:
				created.Add(1)
			case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "count/secrets"):
				refused.Add(1)
			default:
				t.Errorf("secret %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if want := int64(5 - before); created.Load() != want || refused.Load() != 12-want {
		t.Fatalf("%d secrets existed, then %d created and %d refused; want exactly %d created", before, created.Load(), refused.Load(), want)
	}

	// The limit removed: the webhook no longer sees secrets, creates pass.
	var tn tenancy.Tenant
	if err := hostC.Get(ctx, client.ObjectKey{Name: "tally"}, &tn); err != nil {
		t.Fatal(err)
	}
	tn.Spec.Quota = nil
	if err := hostC.Update(ctx, &tn); err != nil {
		t.Fatal(err)
	}
	if err := hostC.Get(ctx, client.ObjectKey{Name: "tally-none"}, &tn); err != nil {
		t.Fatal(err)
	}
	tn.Spec.Quota = nil
	if err := hostC.Update(ctx, &tn); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the quota webhook to stop counting secrets", func(ctx context.Context) (bool, string) {
		counts, msg := webhookCounts(ctx, "secrets")
		return !counts, msg
	})
	eventually(t, 60*time.Second, "a secret over the old limit to be admitted", func(ctx context.Context) (bool, string) {
		err := hostC.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "after", Namespace: "tally-a"}})
		return err == nil || apierrors.IsAlreadyExists(err), fmt.Sprint(err)
	})
}
