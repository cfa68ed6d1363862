package main

import (
	"context"
	"crypto/x509"
	"embed"
	"encoding/pem"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	vclusterkit "github.com/vclusterkit/vclusterkit"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/kubeconfig"
)

//go:embed templates/*.html
var templateFS embed.FS

// Options configure a Portal.
type Options struct {
	// Client reads Tenants, Spaces, VirtualClusters, Namespaces,
	// NetworkPolicies and member kubeconfig Secrets on the host, and creates
	// VirtualClusters. Its scheme must know the tenancy and vcluster types.
	// Required.
	Client client.Client
	// UserHeader carries the user name the authenticating proxy verified;
	// empty means "X-Forwarded-User".
	UserHeader string
	// GroupsHeader carries the user's groups, comma-separated; empty means
	// "X-Forwarded-Groups".
	GroupsHeader string
	// VirtualClusterNamespace is where created VirtualCluster objects live;
	// empty means "vclusterkit-system".
	VirtualClusterNamespace string
	// Logger logs server-side errors; the zero value discards.
	Logger logr.Logger
}

// Portal serves the pages. Create it with New; it is an http.Handler and
// safe for concurrent use.
type Portal struct {
	opts Options
	tpl  *template.Template
	mux  http.Handler
}

// identity is the signed-in user as the proxy reported it.
type identity struct {
	Name   string
	Groups []string
}

type ctxKey struct{}

// New checks opts and builds the handler.
func New(opts Options) (*Portal, error) {
	if opts.Client == nil {
		return nil, errors.New("portal: Options.Client is required")
	}
	if opts.UserHeader == "" {
		opts.UserHeader = "X-Forwarded-User"
	}
	if opts.GroupsHeader == "" {
		opts.GroupsHeader = "X-Forwarded-Groups"
	}
	if opts.VirtualClusterNamespace == "" {
		opts.VirtualClusterNamespace = "vclusterkit-system"
	}
	if opts.Logger.GetSink() == nil {
		opts.Logger = logr.Discard()
	}
	tpl, err := template.New("").Funcs(template.FuncMap{"resources": formatResources, "join": strings.Join, "dict": dict}).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("portal: templates: %w", err)
	}
	p := &Portal{opts: opts, tpl: tpl}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", p.index)
	mux.HandleFunc("GET /reachability", p.reachability)
	mux.HandleFunc("GET /kubeconfig/{namespace}/{name}", p.kubeconfig)
	mux.HandleFunc("POST /virtualclusters", p.createVirtualCluster)
	p.mux = http.NewCrossOriginProtection().Handler(mux)
	return p, nil
}

// ServeHTTP refuses requests without the proxy's user header, then routes.
func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user := strings.TrimSpace(r.Header.Get(p.opts.UserHeader))
	if user == "" {
		http.Error(w, "not signed in: this portal must be reached through the authenticating proxy ("+p.opts.UserHeader+" missing)", http.StatusUnauthorized)
		return
	}
	id := identity{Name: user}
	for _, g := range strings.Split(r.Header.Get(p.opts.GroupsHeader), ",") {
		if g = strings.TrimSpace(g); g != "" {
			id.Groups = append(id.Groups, g)
		}
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	p.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, id)))
}

func userFrom(r *http.Request) identity { return r.Context().Value(ctxKey{}).(identity) }

// roleIn is the highest role id holds in tenant (directly or through an
// ancestor), and whether id holds it as a user (only users get kubeconfigs).
func roleIn(tree *tenancy.Tree, tenant string, id identity) (role tenancy.Role, asUser bool) {
	members, err := tree.EffectiveMembers(tenant)
	if err != nil {
		return "", false
	}
	rank := map[tenancy.Role]int{tenancy.RoleView: 1, tenancy.RoleEdit: 2, tenancy.RoleAdmin: 3}
	for _, m := range members {
		match := m.Kind == tenancy.MemberUser && m.Name == id.Name || m.Kind == tenancy.MemberGroup && slices.Contains(id.Groups, m.Name)
		if !match {
			continue
		}
		if m.Kind == tenancy.MemberUser {
			asUser = true
		}
		if rank[m.Role] > rank[role] {
			role = m.Role
		}
	}
	return role, asUser
}

func (p *Portal) fail(w http.ResponseWriter, r *http.Request, code int, msg string, err error) {
	if err != nil {
		p.opts.Logger.Error(err, msg, "path", r.URL.Path, "user", userFrom(r).Name)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_ = p.tpl.ExecuteTemplate(w, "error.html", map[string]any{"User": userFrom(r), "Code": code, "Status": http.StatusText(code), "Message": msg})
}

func (p *Portal) render(w http.ResponseWriter, r *http.Request, name string, data any) {
	var b strings.Builder
	if err := p.tpl.ExecuteTemplate(&b, name, data); err != nil {
		p.fail(w, r, http.StatusInternalServerError, "rendering the page failed", err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}

// kubeconfig serves the signed-in user's own kubeconfig for a virtual
// cluster, if they are a User member of its tenant.
func (p *Portal) kubeconfig(w http.ResponseWriter, r *http.Request) {
	id := userFrom(r)
	ctx := r.Context()
	vc := &vcluster.VirtualCluster{}
	key := client.ObjectKey{Namespace: r.PathValue("namespace"), Name: r.PathValue("name")}
	if err := p.opts.Client.Get(ctx, key, vc); err != nil {
		if apierrors.IsNotFound(err) {
			p.fail(w, r, http.StatusNotFound, "no virtual cluster "+key.String(), nil)
		} else {
			p.fail(w, r, http.StatusInternalServerError, "reading the virtual cluster failed", err)
		}
		return
	}
	s, err := p.load(ctx)
	if err != nil {
		p.fail(w, r, http.StatusInternalServerError, "reading the tenant tree failed", err)
		return
	}
	role, asUser := roleIn(s.tree, vc.Spec.Tenant, id)
	if role == "" {
		p.fail(w, r, http.StatusForbidden, fmt.Sprintf("%s is not a member of tenant %s", id.Name, vc.Spec.Tenant), nil)
		return
	}
	if !asUser {
		p.fail(w, r, http.StatusForbidden, "kubeconfigs are issued to user members only; you are a member of "+vc.Spec.Tenant+" through a group", nil)
		return
	}
	kc, err := kubeconfig.FromSecret(ctx, p.opts.Client, vcluster.SecretRef{Namespace: vc.Namespace, Name: vclusterkit.MemberKubeconfigSecret(vc.Name, id.Name), Key: kubeconfig.DefaultSecretKey})
	switch {
	case errors.Is(err, vcluster.ErrNotFound):
		p.fail(w, r, http.StatusNotFound, "your kubeconfig for "+vc.Name+" is not issued yet (the virtual cluster must be Running)", nil)
		return
	case err != nil:
		p.fail(w, r, http.StatusInternalServerError, "reading your kubeconfig failed", err)
		return
	}
	// Secret names fold user names (case, punctuation): serve it only if
	// its certificate is really this user's.
	if cn, err := clientCertCN(kc); err != nil || cn != id.Name {
		p.fail(w, r, http.StatusForbidden, "the kubeconfig stored for your name belongs to another user", fmt.Errorf("certificate CN %q for user %q: %v", cn, id.Name, err))
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", vc.Name+".kubeconfig"))
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(kc)
}

// clientCertCN returns the common name of the current context's client
// certificate.
func clientCertCN(kc []byte) (string, error) {
	cfg, err := clientcmd.Load(kc)
	if err != nil {
		return "", err
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	if ctx == nil || cfg.AuthInfos[ctx.AuthInfo] == nil {
		return "", errors.New("no current context")
	}
	block, _ := pem.Decode(cfg.AuthInfos[ctx.AuthInfo].ClientCertificateData)
	if block == nil {
		return "", errors.New("no client certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", err
	}
	return cert.Subject.CommonName, nil
}

// createVirtualCluster creates a VirtualCluster for a tenant the user is
// an admin of.
func (p *Portal) createVirtualCluster(w http.ResponseWriter, r *http.Request) {
	id := userFrom(r)
	ctx := r.Context()
	tenant, name := strings.TrimSpace(r.FormValue("tenant")), strings.TrimSpace(r.FormValue("name"))
	s, err := p.load(ctx)
	if err != nil {
		p.fail(w, r, http.StatusInternalServerError, "reading the tenant tree failed", err)
		return
	}
	if !s.tree.Has(tenant) {
		p.fail(w, r, http.StatusBadRequest, fmt.Sprintf("tenant: %q does not exist", tenant), nil)
		return
	}
	if role, _ := roleIn(s.tree, tenant, id); role != tenancy.RoleAdmin {
		p.fail(w, r, http.StatusForbidden, fmt.Sprintf("only admins of tenant %s may create virtual clusters", tenant), nil)
		return
	}
	vc := &vcluster.VirtualCluster{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: p.opts.VirtualClusterNamespace,
			Annotations: map[string]string{"portal.vclusterkit.io/created-by": id.Name}},
		Spec: vcluster.VirtualClusterSpec{Tenant: tenant, HostNamespace: tenant + "-vc-" + name},
	}
	if errs := vcluster.Validate(vc); len(errs) > 0 {
		p.fail(w, r, http.StatusBadRequest, errs.ToAggregate().Error(), nil)
		return
	}
	if err := p.opts.Client.Create(ctx, vc); err != nil {
		switch {
		case apierrors.IsAlreadyExists(err):
			p.fail(w, r, http.StatusConflict, fmt.Sprintf("a virtual cluster named %s already exists", name), nil)
		case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
			p.fail(w, r, http.StatusBadRequest, err.Error(), nil)
		default:
			p.fail(w, r, http.StatusInternalServerError, "creating the virtual cluster failed", err)
		}
		return
	}
	p.opts.Logger.Info("virtual cluster created", "user", id.Name, "tenant", tenant, "name", name)
	http.Redirect(w, r, "/#vc-"+vc.Namespace+"-"+vc.Name, http.StatusSeeOther)
}

// dict builds a map for passing several values to a nested template.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, errors.New("dict: odd number of arguments")
	}
	m := map[string]any{}
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}
