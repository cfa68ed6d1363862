package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/api/audit"
	"github.com/vclusterkit/vclusterkit/api/auth"
	"github.com/vclusterkit/vclusterkit/quota/showback"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

// Prefix is where the API's routes live.
const Prefix = "/api/v1"

// Options configure New. Zero values are sane defaults except where a
// field says it is required.
type Options struct {
	// Client reads and writes the host: Tenants, Spaces, VirtualClusters,
	// Namespaces, NetworkPolicies, Secrets. It must watch (events) and its
	// scheme must know the core, networking, tenancy and vcluster types.
	// Required.
	Client client.WithWatch
	// Authenticator verifies bearer credentials (auth.Chain of auth.OIDC
	// and Keys). Required.
	Authenticator auth.Authenticator
	// Keys stores API keys; nil disables the /apikeys routes.
	Keys *auth.KeyStore
	// Audit receives one event per mutating call; nil means none are kept
	// (embedders should set one: audit.NewJSONLines(os.Stderr) at least).
	Audit audit.Sink
	// VirtualClusterNamespace is where VirtualCluster objects are created
	// and listed; empty means "vclusterkit-system".
	VirtualClusterNamespace string
	// MaxBodyBytes bounds request bodies; zero means 64 KiB.
	MaxBodyBytes int64
	// KubeconfigLifetime is how long a user's kubeconfig credential lives;
	// zero means one hour. The virtual cluster's signer does not go below
	// ten minutes.
	KubeconfigLifetime time.Duration
	// Showback prices tenants' usage (/tenants/{tenant}/cost); nil
	// answers that route with 404.
	Showback *showback.Meter
	// Logger logs server-side errors; the zero value discards.
	Logger logr.Logger
}

// Server is the API. It is an http.Handler serving Prefix and below, safe
// for concurrent use. Create it with New.
type Server struct {
	opts   Options
	mux    *http.ServeMux
	routes []route
}

// route is one registered pattern; the OpenAPI test checks every one is
// documented.
type route struct{ method, path string }

// New checks opts and builds the handler.
func New(opts Options) (*Server, error) {
	if opts.Client == nil {
		return nil, errors.New("api.Options.Client is required")
	}
	if opts.Authenticator == nil {
		return nil, errors.New("api.Options.Authenticator is required")
	}
	if opts.VirtualClusterNamespace == "" {
		opts.VirtualClusterNamespace = "vclusterkit-system"
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = 64 << 10
	}
	if opts.KubeconfigLifetime == 0 {
		opts.KubeconfigLifetime = time.Hour
	}
	if opts.Logger.GetSink() == nil {
		opts.Logger = logr.Discard()
	}
	s := &Server{opts: opts, mux: http.NewServeMux()}
	s.register()
	return s, nil
}

// Routes lists "METHOD /path" of every route, in registration order.
func (s *Server) Routes() []string {
	out := make([]string, len(s.routes))
	for i, r := range s.routes {
		out[i] = r.method + " " + r.path
	}
	return out
}

type handler func(w http.ResponseWriter, r *http.Request, c *call) error

func (s *Server) handle(method, path string, h handler) {
	s.routes = append(s.routes, route{method, path})
	s.mux.HandleFunc(method+" "+Prefix+path, func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, h) })
}

func (s *Server) handlePublic(method, path string, h http.HandlerFunc) {
	s.routes = append(s.routes, route{method, path})
	s.mux.HandleFunc(method+" "+Prefix+path, h)
}

func (s *Server) register() {
	s.handlePublic("GET", "/openapi.json", s.openapi)
	s.handle("GET", "/whoami", s.whoami)
	s.handle("GET", "/tenants", s.listTenants)
	s.handle("GET", "/tenants/{tenant}", s.getTenant)
	s.handle("GET", "/tenants/{tenant}/cost", s.cost)
	s.handle("GET", "/tenants/{tenant}/members", s.listMembers)
	s.handle("PUT", "/tenants/{tenant}/members", s.setMember)
	s.handle("DELETE", "/tenants/{tenant}/members/{kind}/{name}", s.deleteMember)
	s.handle("GET", "/spaces", s.listSpaces)
	s.handle("POST", "/spaces", s.createSpace)
	s.handle("GET", "/spaces/{name}", s.getSpace)
	s.handle("DELETE", "/spaces/{name}", s.deleteSpace)
	s.handle("GET", "/virtualclusters", s.listVCs)
	s.handle("POST", "/virtualclusters", s.createVC)
	s.handle("GET", "/virtualclusters/{name}", s.getVC)
	s.handle("DELETE", "/virtualclusters/{name}", s.deleteVC)
	s.handle("POST", "/virtualclusters/{name}/sleep", s.sleepVC)
	s.handle("POST", "/virtualclusters/{name}/wake", s.wakeVC)
	s.handle("GET", "/virtualclusters/{name}/kubeconfig", s.kubeconfig)
	s.handle("GET", "/reachability", s.reachability)
	s.handle("GET", "/events", s.events)
	s.handle("GET", "/apikeys", s.listKeys)
	s.handle("POST", "/apikeys", s.createKey)
	s.handle("DELETE", "/apikeys/{id}", s.deleteKey)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if _, pattern := s.mux.Handler(r); pattern == "" {
		if allowed := s.allowed(r); len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			writeError(w, errf(http.StatusMethodNotAllowed, "MethodNotAllowed", "", "%s is not served on %s; it takes %s", r.Method, r.URL.Path, strings.Join(allowed, ", ")))
			return
		}
		writeError(w, notFound("no route %s %s (the routes are in %s/openapi.json)", r.Method, r.URL.Path, Prefix))
		return
	}
	s.mux.ServeHTTP(w, r)
}

// allowed lists the methods that have a route for r's path.
func (s *Server) allowed(r *http.Request) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" {
			out = append(out, m)
		}
	}
	return out
}

// call is one request's state: who calls, and what the audit event says.
type call struct {
	id     *auth.Identity
	action string
	tenant string
	target string
	tree   *tenancy.Tree
}

func mutating(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// serve authenticates, runs h, answers its error and records the audit
// event of a mutating call.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, h handler) {
	start := time.Now()
	c := &call{action: r.Method + " " + r.URL.Path}
	sw := &statusWriter{ResponseWriter: w}
	w = sw
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	err := func() error {
		// The scheme is case-insensitive (RFC 9110 §11.1): "bearer" is
		// what some clients send.
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return fmt.Errorf("%w: no credential: send Authorization: Bearer <OIDC ID token or API key>", auth.ErrUnauthenticated)
		}
		id, err := s.opts.Authenticator.Authenticate(r.Context(), token)
		if err != nil {
			return err
		}
		c.id = id
		return h(w, r, c)
	}()
	code := http.StatusOK
	if err != nil {
		e := fromError(err)
		if e.Code == http.StatusInternalServerError {
			s.opts.Logger.Error(err, "API call failed", "action", c.action, "user", c.id.String())
		}
		writeError(w, e)
		code = e.Code
		err = e
	} else {
		code = sw.Status()
	}
	if mutating(r.Method) && s.opts.Audit != nil {
		ev := audit.Event{Time: start.UTC(), Actor: c.id.String(), Action: c.action, Tenant: c.tenant, Target: c.target,
			Code: code, Result: audit.ResultSuccess, RemoteAddr: r.RemoteAddr}
		if c.id != nil {
			ev.Method = string(c.id.Method)
		}
		if err != nil {
			ev.Reason = err.Error()
			switch {
			case code == http.StatusUnauthorized || code == http.StatusForbidden:
				ev.Result = audit.ResultDenied
			case code < 500:
				ev.Result = audit.ResultInvalid
			default:
				ev.Result = audit.ResultError
			}
		}
		if aerr := s.opts.Audit.Record(context.WithoutCancel(r.Context()), ev); aerr != nil {
			s.opts.Logger.Error(aerr, "recording audit event failed", "action", ev.Action, "actor", ev.Actor)
		}
	}
}

// decode reads a JSON body into v: at most MaxBodyBytes, no unknown
// fields, one value.
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errf(http.StatusRequestEntityTooLarge, "TooLarge", "", "request body larger than %d bytes", mbe.Limit)
		}
		return invalid("", "reading the body: %v", err)
	}
	// A body is JSON only when it says so: a browser sends text/plain or a
	// form across sites without asking first, so a body of any other type
	// is refused before it is read as JSON, as the Kubernetes API server
	// does. (A bearer header already keeps such requests out; this is the
	// second lock.)
	if len(bytes.TrimSpace(body)) > 0 {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			ct := r.Header.Get("Content-Type")
			if ct == "" {
				return errf(http.StatusUnsupportedMediaType, "UnsupportedMediaType", "", "the body has no Content-Type: send it as application/json")
			}
			return errf(http.StatusUnsupportedMediaType, "UnsupportedMediaType", "", "Content-Type %q is not served: send the body as application/json", ct)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ute *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &ute):
			return invalid(ute.Field, "must be a %s, not a JSON %s", ute.Type, ute.Value)
		case errors.As(err, &se):
			return invalid("", "body is not valid JSON: %v (at byte %d)", err, se.Offset)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return invalid(f, "unknown field %q", f)
		case errors.Is(err, io.EOF):
			return invalid("", "a JSON body is required")
		}
		return invalid("", "body: %v", err)
	}
	if dec.More() {
		return invalid("", "body must hold one JSON value")
	}
	// encoding/json matches keys case-insensitively and lets a repeated
	// key win silently, so {"Tenant": …} or two "tenant" keys would pass
	// above and mean something other than what a proxy, a log or a human
	// reading the body sees. Both are refused, as the Kubernetes API
	// server refuses them.
	if e := exactFields(body, v); e != nil {
		return e
	}
	return nil
}

// exactFields checks the keys of body's top-level object against the json
// names of v's struct fields, case-sensitively, and refuses a key that
// appears twice. The request bodies are flat structs, so the top level is
// all there is to check; body has already decoded into v.
func exactFields(body []byte, v any) *Error {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	names := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names[name] = true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		key, _ := tok.(string)
		switch {
		case !names[key]:
			return invalid(key, "unknown field %q (field names are case-sensitive)", key)
		case seen[key]:
			return invalid(key, "duplicate field %q: give each field once", key)
		}
		seen[key] = true
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil
		}
	}
	return nil
}

// statusWriter remembers the status for the audit event.
type statusWriter struct {
	http.ResponseWriter
	code int
	once sync.Once
}

func (w *statusWriter) WriteHeader(code int) {
	w.once.Do(func() { w.code = code })
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// loadTree reads the tenant tree once per call.
func (s *Server) loadTree(ctx context.Context, c *call) (*tenancy.Tree, error) {
	if c.tree != nil {
		return c.tree, nil
	}
	var tl tenancy.TenantList
	var sl tenancy.SpaceList
	if err := s.opts.Client.List(ctx, &tl); err != nil {
		return nil, fmt.Errorf("listing tenants: %w", err)
	}
	if err := s.opts.Client.List(ctx, &sl); err != nil {
		return nil, fmt.Errorf("listing spaces: %w", err)
	}
	pt, err := tenancy.NewPartialTree(tl.Items, sl.Items, tenancy.TreeOptions{})
	if err != nil {
		return nil, fmt.Errorf("the tenant tree: %w", err)
	}
	c.tree = pt.Tree
	return c.tree, nil
}

var rank = map[tenancy.Role]int{tenancy.RoleView: 1, tenancy.RoleEdit: 2, tenancy.RoleAdmin: 3}

// RoleOf is id's effective role in tenant: the highest role its user name
// or one of its groups holds there (directly or through an ancestor);
// for an API key, capped by the key's role and empty outside its subtree.
// Empty means none.
func RoleOf(tree *tenancy.Tree, tenant string, id *auth.Identity) tenancy.Role {
	if id == nil || !tree.Has(tenant) {
		return ""
	}
	members, err := tree.EffectiveMembers(tenant)
	if err != nil {
		return ""
	}
	var role tenancy.Role
	for _, m := range members {
		match := m.Kind == tenancy.MemberUser && m.Name == id.Name || m.Kind == tenancy.MemberGroup && slices.Contains(id.Groups, m.Name)
		if match && rank[m.Role] > rank[role] {
			role = m.Role
		}
	}
	if sc := id.Scope; sc != nil {
		if tenant != sc.Tenant && !tree.IsAncestor(sc.Tenant, tenant) {
			return ""
		}
		if rank[sc.Role] < rank[role] {
			role = sc.Role
		}
	}
	return role
}

// require checks that the caller holds at least want in tenant; it answers
// 404 for a tenant the caller cannot see at all, so that names do not leak.
func (s *Server) require(ctx context.Context, c *call, tenant string, want tenancy.Role, what string) error {
	tree, err := s.loadTree(ctx, c)
	if err != nil {
		return err
	}
	role := RoleOf(tree, tenant, c.id)
	if role == "" {
		if c.id.Scope != nil && tree.Has(tenant) && RoleOf(tree, tenant, &auth.Identity{Name: c.id.Name, Groups: c.id.Groups}) != "" {
			return forbidden("API key %s is scoped to tenant %s and its descendants; tenant %s is outside that scope", c.id.Scope.KeyID, c.id.Scope.Tenant, tenant)
		}
		return notFound("tenant %s not found, or %s is not a member of it", tenant, c.id.Name)
	}
	if rank[role] < rank[want] {
		return forbidden("%s needs the %s role in tenant %s; %s has %s", what, want, tenant, c.id.String(), role)
	}
	return nil
}

func (s *Server) getVirtualCluster(ctx context.Context, name string) (*vcluster.VirtualCluster, error) {
	vc := &vcluster.VirtualCluster{}
	if err := s.opts.Client.Get(ctx, client.ObjectKey{Namespace: s.opts.VirtualClusterNamespace, Name: name}, vc); err != nil {
		return nil, err
	}
	return vc, nil
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request, c *call) error {
	tree, err := s.loadTree(r.Context(), c)
	if err != nil {
		return err
	}
	out := WhoAmI{Name: c.id.Name, Groups: c.id.Groups, Method: string(c.id.Method), Roles: map[string]tenancy.Role{}}
	if c.id.Scope != nil {
		out.Scope = &KeyScope{KeyID: c.id.Scope.KeyID, Tenant: c.id.Scope.Tenant, Role: c.id.Scope.Role}
	}
	for _, root := range tree.Roots() {
		for _, t := range tree.Subtree(root) {
			if role := RoleOf(tree, t, c.id); role != "" {
				out.Roles[t] = role
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
