package vclusterkit

import (
	"context"
	"fmt"
	"net"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/vclusterkit/vclusterkit/quota"
	"github.com/vclusterkit/vclusterkit/quota/admission"
	"github.com/vclusterkit/vclusterkit/tenancy"
)

// setupQuota wires the quota ledger: a pod informer keeps it in step with
// what exists, and (unless disabled) a fail-closed validating webhook
// admits host pod creates against it.
func (e *Engine) setupQuota() error {
	resolver := admission.LabelResolver{Reader: e.client, Defaults: func(tenant string) *tenancy.LimitRangeDefaults {
		s, err := e.snapshot(context.Background())
		if err != nil {
			return nil
		}
		return quota.EffectiveLimitRange(s.tenants, tenant)
	}}
	tracker := &admission.Tracker{Ledger: e.ledger, Resolver: resolver}
	return e.mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		tracker.Context = ctx
		// The ledger needs the tree before it can charge anything.
		if err := e.refreshLedger(ctx); err != nil {
			return err
		}
		inf, err := e.mgr.GetCache().GetInformer(ctx, &corev1.Pod{})
		if err != nil {
			return fmt.Errorf("quota: pod informer: %w", err)
		}
		if _, err := inf.AddEventHandler(tracker.EventHandler()); err != nil {
			return err
		}
		if !toolscache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
			return ctx.Err()
		}
		if e.opts.Quota.Disabled {
			<-ctx.Done()
			return nil
		}
		return e.serveWebhook(ctx, resolver)
	}))
}

func (e *Engine) refreshLedger(ctx context.Context) error {
	s, err := e.snapshot(ctx)
	if err != nil {
		return fmt.Errorf("quota: %w", err)
	}
	return e.ledger.SetNodes(quota.Nodes(s.tenants, s.spaces))
}

func (e *Engine) serveWebhook(ctx context.Context, resolver admission.Resolver) error {
	qo := e.opts.Quota
	addr := qo.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	hosts := qo.Hosts
	if len(hosts) == 0 {
		if qo.Service != nil {
			hosts = []string{qo.Service.Name + "." + qo.Service.Namespace + ".svc"}
		} else if h, _, err := net.SplitHostPort(addr); err == nil && h != "" {
			hosts = []string{h}
		}
	}
	certs, err := admission.GenerateCerts(admission.CertOptions{Hosts: hosts})
	if err != nil {
		return fmt.Errorf("quota webhook certificates: %w", err)
	}
	wh := &admission.Webhook{Ledger: e.ledger, Resolver: resolver}
	srv, err := admission.Serve(ctx, wh, admission.ServerOptions{Addr: addr, Certs: certs})
	if err != nil {
		return fmt.Errorf("quota webhook: %w", err)
	}
	e.webhook = srv
	io := admission.InstallOptions{CABundle: certs.CAPEM}
	if qo.Service != nil {
		io.Service = qo.Service
	} else {
		io.URL = srv.URL
	}
	c, err := client.New(e.mgr.GetConfig(), client.Options{Scheme: e.mgr.GetScheme()})
	if err != nil {
		return err
	}
	ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
	cfg, err := admission.Install(ictx, c, io)
	cancel()
	if err != nil {
		return fmt.Errorf("installing the quota webhook: %w", err)
	}
	<-ctx.Done()
	if qo.Service != nil {
		// Behind a Service another replica takes over: the webhook stays,
		// failing closed while none answers.
		return nil
	}
	// A loopback webhook dies with this process: remove it so the host
	// keeps admitting pods once the engine is gone.
	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	_ = client.IgnoreNotFound(c.Delete(dctx, &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: cfg.ObjectMeta}))
	return nil
}
