package testenv

import (
	"context"
	"errors"

	"sigs.k8s.io/e2e-framework/pkg/env"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
)

type hostKey struct{}

// E2ESetup is an e2e-framework env.Func that starts a Host, points the
// environment's configuration at it and stores it in the context for
// HostFrom. Pair it with E2EFinish.
//
//	testEnv := env.New()
//	testEnv.Setup(testenv.E2ESetup(testenv.HostOptions{Nodes: 2}))
//	testEnv.Finish(testenv.E2EFinish())
//	os.Exit(testEnv.Run(m))
func E2ESetup(opts HostOptions) env.Func {
	return func(ctx context.Context, cfg *envconf.Config) (context.Context, error) {
		h, err := StartHost(ctx, opts)
		if err != nil {
			return ctx, err
		}
		cfg.WithKubeconfigFile(h.KubeconfigPath)
		return context.WithValue(ctx, hostKey{}, h), nil
	}
}

// E2EFinish stops the Host that E2ESetup started.
func E2EFinish() env.Func {
	return func(ctx context.Context, _ *envconf.Config) (context.Context, error) {
		h := HostFrom(ctx)
		if h == nil {
			return ctx, errors.New("testenv: no host in the context (was E2ESetup run?)")
		}
		return ctx, h.Stop()
	}
}

// HostFrom returns the Host that E2ESetup stored in ctx, or nil.
func HostFrom(ctx context.Context) *Host {
	h, _ := ctx.Value(hostKey{}).(*Host)
	return h
}
