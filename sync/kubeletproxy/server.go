package kubeletproxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/vclusterkit/vclusterkit/sync/translate"
)

// Options configure a Server. Fields without "optional" are required.
type Options struct {
	// VirtualCluster and HostNamespace name the virtual cluster whose pods
	// are served and where their host copies live.
	VirtualCluster, HostNamespace string
	// Virtual reads the virtual cluster's pods; a reader without a cache
	// is best (a pod just created is found).
	Virtual client.Reader
	// Host reads host pods.
	Host client.Reader
	// HostConfig are the credentials requests are forwarded with (the
	// engine's host access).
	HostConfig *rest.Config
	// ClientCA (PEM) and ClientName: only a client certificate from this
	// CA with this common name is served (the virtual API server's
	// kubelet client certificate).
	ClientCA   []byte
	ClientName string
	// Cert and Key (PEM) are the serving certificate, trusted by the
	// virtual API server (its --kubelet-certificate-authority).
	Cert, Key []byte
	// Address to listen on; optional, default "127.0.0.1:0" (a free
	// loopback port, enough when the virtual API server runs on this
	// machine).
	Address string
}

// Server is the kubelet API of one virtual cluster. New binds its
// listener, so Addr is known before Start; Start serves until its context
// ends. It is a manager.Runnable and safe for concurrent use.
type Server struct {
	opts     Options
	tr       *translate.Translator
	listener net.Listener
	tls      *tls.Config
	proxy    *httputil.ReverseProxy
	host     *url.URL
}

var _ manager.Runnable = (*Server)(nil)

// New checks opts, binds the listener and returns a Server.
func New(opts Options) (*Server, error) {
	switch {
	case opts.Virtual == nil:
		return nil, errors.New("kubeletproxy.New: Options.Virtual is required")
	case opts.Host == nil:
		return nil, errors.New("kubeletproxy.New: Options.Host is required")
	case opts.HostConfig == nil:
		return nil, errors.New("kubeletproxy.New: Options.HostConfig is required")
	case opts.ClientName == "":
		return nil, errors.New("kubeletproxy.New: Options.ClientName is required")
	case len(opts.Cert) == 0 || len(opts.Key) == 0:
		return nil, errors.New("kubeletproxy.New: Options.Cert and Options.Key are required")
	}
	tr, err := translate.New(opts.VirtualCluster, opts.HostNamespace)
	if err != nil {
		return nil, fmt.Errorf("kubeletproxy.New: Options.VirtualCluster, Options.HostNamespace: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(opts.ClientCA) {
		return nil, errors.New("kubeletproxy.New: Options.ClientCA: no PEM certificate")
	}
	cert, err := tls.X509KeyPair(opts.Cert, opts.Key)
	if err != nil {
		return nil, fmt.Errorf("kubeletproxy.New: Options.Cert, Options.Key: %w", err)
	}
	host, err := url.Parse(opts.HostConfig.Host)
	if err != nil || host.Host == "" {
		return nil, fmt.Errorf("kubeletproxy.New: Options.HostConfig.Host %q: not a URL", opts.HostConfig.Host)
	}
	if host.Scheme == "" {
		host.Scheme = "https"
	}
	rt, err := hostTransport(opts.HostConfig)
	if err != nil {
		return nil, fmt.Errorf("kubeletproxy.New: Options.HostConfig: %w", err)
	}
	if opts.Address == "" {
		opts.Address = "127.0.0.1:0"
	}
	s := &Server{opts: opts, tr: tr, host: host}
	s.tls = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		// HTTP/1.1 only: the streams are HTTP/1.1 upgrades.
		NextProtos:       []string{"http/1.1"},
		VerifyConnection: s.verifyClient,
	}
	s.proxy = &httputil.ReverseProxy{
		Rewrite:       func(*httputil.ProxyRequest) {}, // set per request in ServeHTTP
		Transport:     rt,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			ctrl.LoggerFrom(r.Context()).Error(err, "forwarding to the host API server", "path", r.URL.Path)
			http.Error(w, "kubelet proxy: host API server: "+err.Error(), http.StatusBadGateway)
		},
	}
	l, err := net.Listen("tcp", opts.Address)
	if err != nil {
		return nil, fmt.Errorf("kubeletproxy.New: Options.Address %q: %w", opts.Address, err)
	}
	s.listener = l
	return s, nil
}

// hostTransport is an HTTP/1.1 transport with the host credentials: an
// upgrade (SPDY, WebSocket) cannot ride HTTP/2.
func hostTransport(cfg *rest.Config) (http.RoundTripper, error) {
	tlsCfg, err := rest.TLSConfigFor(cfg)
	if err != nil {
		return nil, err
	}
	if tlsCfg == nil {
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tlsCfg.NextProtos = []string{"http/1.1"}
	t := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		TLSClientConfig:     tlsCfg,
		TLSHandshakeTimeout: 10 * time.Second,
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 10,
		IdleConnTimeout:     90 * time.Second,
	}
	return rest.HTTPWrappersForConfig(cfg, t)
}

// verifyClient refuses a verified certificate of the CA that is not the
// expected client's.
func (s *Server) verifyClient(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("kubelet proxy: a client certificate is required")
	}
	if cn := cs.PeerCertificates[0].Subject.CommonName; cn != s.opts.ClientName {
		return fmt.Errorf("kubelet proxy: client %q is not the virtual API server (%q)", cn, s.opts.ClientName)
	}
	return nil
}

// Addr is the address the Server listens on.
func (s *Server) Addr() *net.TCPAddr { return s.listener.Addr().(*net.TCPAddr) }

// Start implements manager.Runnable: it serves until ctx ends, then closes
// the listener and every connection (streams included).
func (s *Server) Start(ctx context.Context) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          nil,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(tls.NewListener(s.listener, s.tls)) }()
	select {
	case <-ctx.Done():
		_ = srv.Close()
		<-errc
		return nil
	case err := <-errc:
		return fmt.Errorf("kubelet proxy for %s: %w", s.opts.VirtualCluster, err)
	}
}

// refusal is an answer that says why a request was not served.
type refusal struct {
	code int
	msg  string
}

func (r *refusal) Error() string { return r.msg }

func refuse(code int, format string, args ...any) error {
	return &refusal{code: code, msg: fmt.Sprintf(format, args...)}
}

// ServeHTTP implements http.Handler. The TLS layer has already checked the
// client certificate; a request reaching ServeHTTP without one (a handler
// mounted elsewhere) is refused too.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := ctrl.LoggerFrom(r.Context()).WithValues("virtualCluster", s.opts.VirtualCluster, "path", r.URL.EscapedPath())
	target, err := s.resolve(r)
	if err != nil {
		var rf *refusal
		code := http.StatusInternalServerError
		if errors.As(err, &rf) {
			code = rf.code
		}
		log.Info("kubelet request refused", "code", code, "reason", err.Error())
		http.Error(w, "kubelet proxy: "+err.Error(), code)
		return
	}
	log.V(1).Info("kubelet request forwarded", "host", target.Path)
	p := *s.proxy
	p.Rewrite = func(pr *httputil.ProxyRequest) {
		pr.Out.URL = target
		pr.Out.Host = ""
		// Only what the streams need: never an Authorization,
		// Impersonate-* or any other identity header of the caller.
		h := http.Header{}
		for k, vs := range pr.Out.Header {
			if forwardedHeader(k) {
				h[k] = vs
			}
		}
		h.Set("User-Agent", "vclusterkit-kubelet-proxy/"+s.opts.VirtualCluster)
		pr.Out.Header = h
	}
	p.ServeHTTP(w, r)
}

func forwardedHeader(k string) bool {
	k = http.CanonicalHeaderKey(k)
	switch k {
	case "Connection", "Upgrade", "X-Stream-Protocol-Version", "Accept", "Accept-Encoding", "Content-Type", "Content-Length":
		return true
	}
	return strings.HasPrefix(k, "Sec-Websocket-")
}

// resolve checks the request and returns the host URL to forward it to.
func (s *Server) resolve(r *http.Request) (*url.URL, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || s.verifyClient(*r.TLS) != nil {
		return nil, refuse(http.StatusUnauthorized, "only the virtual API server is served")
	}
	escaped := r.URL.EscapedPath()
	if path.Clean(r.URL.Path) != r.URL.Path || strings.Contains(escaped, "%") {
		return nil, refuse(http.StatusBadRequest, "path %q: not a plain path", escaped)
	}
	req, err := ParsePath(escaped)
	if err != nil {
		return nil, refuse(http.StatusNotFound, "%v", err)
	}
	switch {
	case req.Kind == KindLogs && r.Method != http.MethodGet && r.Method != http.MethodHead:
		return nil, refuse(http.StatusMethodNotAllowed, "%s: method %s is not allowed", req.Kind, r.Method)
	case req.Kind != KindLogs && r.Method != http.MethodGet && r.Method != http.MethodPost:
		return nil, refuse(http.StatusMethodNotAllowed, "%s: method %s is not allowed", req.Kind, r.Method)
	}
	h, err := s.hostPod(r.Context(), req)
	if err != nil {
		return nil, err
	}
	u := *s.host
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v1/namespaces/" + h.Namespace + "/pods/" + h.Name + "/" + req.subresource()
	u.RawPath = ""
	u.RawQuery = hostQuery(req, r.URL.Query()).Encode()
	return &u, nil
}

// hostPod returns the host copy of the requested virtual pod, refusing
// anything but a pod this virtual cluster synced from exactly that virtual
// pod.
func (s *Server) hostPod(ctx context.Context, req Request) (*corev1.Pod, error) {
	v := &corev1.Pod{}
	if err := s.opts.Virtual.Get(ctx, types.NamespacedName{Namespace: req.Namespace, Name: req.Pod}, v); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, refuse(http.StatusNotFound, "pod %s/%s does not exist in virtual cluster %s", req.Namespace, req.Pod, s.opts.VirtualCluster)
		}
		return nil, fmt.Errorf("reading virtual pod %s/%s: %w", req.Namespace, req.Pod, err)
	}
	if req.Container != "" && !hasContainer(v, req.Container) {
		return nil, refuse(http.StatusNotFound, "pod %s/%s has no container %q", req.Namespace, req.Pod, req.Container)
	}
	key := types.NamespacedName{Namespace: s.tr.HostNamespace(), Name: s.tr.HostName(req.Pod, req.Namespace)}
	h := &corev1.Pod{}
	if err := s.opts.Host.Get(ctx, key, h); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, refuse(http.StatusNotFound, "pod %s/%s is not synced to the host", req.Namespace, req.Pod)
		}
		return nil, fmt.Errorf("reading host pod %s: %w", key, err)
	}
	o, ok := s.tr.Origin(h)
	if !ok || o.Kind != "Pod" || o.Namespace != req.Namespace || o.Name != req.Pod || o.UID != v.UID {
		return nil, refuse(http.StatusForbidden, "host pod %s is not the copy of pod %s/%s (uid %s) synced by virtual cluster %s", key, req.Namespace, req.Pod, v.UID, s.opts.VirtualCluster)
	}
	if v.Spec.NodeName != "" && h.Spec.NodeName != v.Spec.NodeName {
		return nil, refuse(http.StatusForbidden, "pod %s/%s is bound to node %q, its host copy runs on %q", req.Namespace, req.Pod, v.Spec.NodeName, h.Spec.NodeName)
	}
	return h, nil
}

func hasContainer(p *corev1.Pod, name string) bool {
	for _, c := range p.Spec.Containers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range p.Spec.InitContainers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range p.Spec.EphemeralContainers {
		if c.Name == name {
			return true
		}
	}
	return false
}

// Close releases the listener of a Server that was never started; Start
// closes it itself when its context ends.
func (s *Server) Close() error { return s.listener.Close() }
