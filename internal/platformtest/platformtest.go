// Package platformtest starts the whole platform front door for tests: a
// KWOK host cluster (internal/testenv), a vclusterkit Engine with the
// local provisioner, a real OIDC issuer (internal/oidctest), and the API
// (package api) with OIDC and API keys behind an httptest server, auditing
// into memory. The API, CLI and portal tests share it.
package platformtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"sync"
	"time"

	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	vclusterkit "github.com/vclusterkit/vclusterkit"
	"github.com/vclusterkit/vclusterkit/api"
	"github.com/vclusterkit/vclusterkit/api/audit"
	"github.com/vclusterkit/vclusterkit/api/auth"
	"github.com/vclusterkit/vclusterkit/internal/oidctest"
	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/quota/showback"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/local"
)

// ClientID is the audience the API accepts.
const ClientID = "vclusterkit-portal"

// Namespace holds VirtualClusters and API keys.
const Namespace = "vclusterkit-system"

// Platform is a running front door.
type Platform struct {
	Host   *testenv.Host
	Engine *vclusterkit.Engine
	Client client.WithWatch
	Issuer *oidctest.Issuer
	API    *api.Server
	Keys   *auth.KeyStore
	// Server serves API at Server.URL + api.Prefix.
	Server *httptest.Server
	Audit  *Recorder
	// Showback meters the engine's ledger on Clock: tests advance the
	// clock and call Sample.
	Showback *showback.Meter
	Clock    *Clock

	stop     func()
	stateDir string
}

// Clock is a clock tests set.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock on.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Recorder is an audit sink keeping events in memory and writing them as
// JSON lines (the shipped default sink) into a buffer.
type Recorder struct {
	mu     sync.Mutex
	events []audit.Event
	lines  bytes.Buffer
	json   *audit.JSONLines
}

// Record implements audit.Sink.
func (r *Recorder) Record(ctx context.Context, e audit.Event) error {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	return r.json.Record(ctx, e)
}

// Events returns a copy of the events so far.
func (r *Recorder) Events() []audit.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]audit.Event(nil), r.events...)
}

// Scheme knows the core, tenancy and vcluster types.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = tenancy.AddToScheme(s)
	_ = vcluster.AddToScheme(s)
	return s
}

// Start starts everything; Stop ends it (also after an error).
func Start(ctx context.Context) (_ *Platform, err error) {
	p := &Platform{}
	defer func() {
		if err != nil {
			p.Stop()
		}
	}()
	p.Host, err = testenv.StartHost(ctx, testenv.HostOptions{Nodes: 1})
	if err != nil {
		return nil, fmt.Errorf("starting the host cluster: %w", err)
	}
	p.stateDir, err = os.MkdirTemp("", "vclusterkit-platformtest-")
	if err != nil {
		return nil, err
	}
	p.Engine, err = vclusterkit.New(p.Host.Config, vclusterkit.Options{Local: local.Options{Dir: p.stateDir}, ResyncPeriod: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("vclusterkit.New: %w", err)
	}
	p.Client, err = client.NewWithWatch(p.Host.Config, client.Options{Scheme: Scheme()})
	if err != nil {
		return nil, err
	}
	if err := p.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}); err != nil && !isExists(err) {
		return nil, err
	}
	ectx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Engine.Start(ectx) }()
	p.stop = func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, "engine stopped with:", err)
		}
	}
	p.Issuer, err = oidctest.Start()
	if err != nil {
		return nil, err
	}
	oidcAuth, err := auth.NewOIDC(context.Background(), auth.OIDCOptions{IssuerURL: p.Issuer.URL(), ClientID: ClientID})
	if err != nil {
		return nil, err
	}
	p.Keys = &auth.KeyStore{Client: p.Client, Namespace: Namespace}
	p.Audit = &Recorder{}
	p.Audit.json = audit.NewJSONLines(&p.Audit.lines)
	p.Clock = &Clock{t: time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)}
	p.Showback, err = showback.NewMeter(showback.Options{Source: p.Engine.Ledger(), Now: p.Clock.Now})
	if err != nil {
		return nil, err
	}
	p.API, err = api.New(api.Options{Showback: p.Showback, Client: p.Client, Authenticator: auth.Chain{OIDC: oidcAuth, Keys: p.Keys}, Keys: p.Keys,
		Audit: p.Audit, VirtualClusterNamespace: Namespace,
		Logger: funcr.New(func(prefix, args string) { fmt.Fprintln(os.Stderr, "api:", prefix, args) }, funcr.Options{})})
	if err != nil {
		return nil, err
	}
	p.Server = httptest.NewServer(p.API)
	return p, nil
}

func isExists(err error) bool {
	var s interface{ Status() metav1.Status }
	return errors.As(err, &s) && s.Status().Reason == metav1.StatusReasonAlreadyExists
}

// Token issues an ID token for user with groups, for the API's audience.
func (p *Platform) Token(user string, groups ...string) string {
	tok, err := p.Issuer.Issue(oidctest.Claims{Subject: user, Audience: ClientID, Groups: groups})
	if err != nil {
		panic(err)
	}
	return tok
}

// Stop stops the server, the engine (its control planes) and the host.
func (p *Platform) Stop() {
	if p.Server != nil {
		p.Server.Close()
	}
	if p.Issuer != nil {
		p.Issuer.Close()
	}
	if p.stop != nil {
		p.stop()
	}
	if p.Engine != nil {
		if lp, err := p.Engine.Provisioners().Get(local.Name); err == nil {
			if l, ok := lp.(*local.Provisioner); ok {
				sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				l.Shutdown(sctx)
				cancel()
			}
		}
	}
	if p.Host != nil {
		_ = p.Host.Stop()
	}
	if p.stateDir != "" {
		_ = os.RemoveAll(p.stateDir)
	}
}

// Fixture creates the tenants every front-door test uses:
//
//	acme   (alice: User admin, acme-devs: Group view; pods 20)
//	├── acme-web  (bob: User edit)
//	└── acme-data (carol: User admin)
//	globex (dave: User admin)
func (p *Platform) Fixture(ctx context.Context) error {
	q := func(pods string) corev1.ResourceList {
		return corev1.ResourceList{corev1.ResourcePods: resourceMust(pods)}
	}
	tenants := []tenancy.Tenant{
		{ObjectMeta: metav1.ObjectMeta{Name: "acme"}, Spec: tenancy.TenantSpec{DisplayName: "ACME Corp",
			Members: []tenancy.Member{{Kind: tenancy.MemberUser, Name: "alice", Role: tenancy.RoleAdmin}, {Kind: tenancy.MemberGroup, Name: "acme-devs", Role: tenancy.RoleView}},
			Quota:   q("20")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "acme-web"}, Spec: tenancy.TenantSpec{Parent: "acme", DisplayName: `<img src=x onerror="window.pwned=1">Web`,
			Members: []tenancy.Member{{Kind: tenancy.MemberUser, Name: "bob", Role: tenancy.RoleEdit}},
			Policy:  tenancy.Policy{NetworkIsolation: tenancy.IsolationTenant}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "acme-data"}, Spec: tenancy.TenantSpec{Parent: "acme",
			Members: []tenancy.Member{{Kind: tenancy.MemberUser, Name: "carol", Role: tenancy.RoleAdmin}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "globex"}, Spec: tenancy.TenantSpec{
			Members: []tenancy.Member{{Kind: tenancy.MemberUser, Name: "dave", Role: tenancy.RoleAdmin}}}},
	}
	for i := range tenants {
		if err := p.Client.Create(ctx, &tenants[i]); err != nil && !isExists(err) {
			return err
		}
	}
	return nil
}

func resourceMust(s string) resource.Quantity { return resource.MustParse(s) }
