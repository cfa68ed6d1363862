package kubeletproxy_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/pki"
	"github.com/vclusterkit/vclusterkit/sync/resources/nodes"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

var loopbackIPs = []net.IP{net.IPv4(127, 0, 0, 1)}

// fakeKubelet stands for the host node's kubelet: it records what the
// host API server forwards to it and answers logs with a fixed line.
type fakeKubelet struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

const fakeLog = "a line from the host kubelet\n"

func startFakeKubelet() (*fakeKubelet, error) {
	f := &fakeKubelet{}
	f.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.seen = append(f.seen, r.URL.RequestURI())
		f.mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/containerLogs/") {
			_, _ = io.WriteString(w, fakeLog)
			return
		}
		http.Error(w, "fake kubelet: no streams here", http.StatusBadRequest)
	}))
	return f, nil
}

func (f *fakeKubelet) saw(prefix string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, s := range f.seen {
		if strings.HasPrefix(s, prefix) {
			out = append(out, s)
		}
	}
	return out
}

func (f *fakeKubelet) port() int32 { return int32(f.Listener.Addr().(*net.TCPAddr).Port) }

type bed struct {
	t    *testing.T
	host client.Client
}

func newBed(t *testing.T) *bed {
	hc, err := client.New(host.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &bed{t: t, host: hc}
}

func (b *bed) create(c client.Client, obj client.Object) {
	b.t.Helper()
	if err := c.Create(context.Background(), obj); err != nil && !apierrors.IsAlreadyExists(err) {
		b.t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

func (b *bed) namespace(c client.Client, name string) {
	b.create(c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	b.create(c, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: name}})
}

// node makes name a Node in c, with status addresses and kubelet port.
func (b *bed) node(c client.Client, name, addr string, port int32) {
	b.t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	b.create(c, n)
	if err := c.Get(context.Background(), client.ObjectKey{Name: name}, n); err != nil {
		b.t.Fatal(err)
	}
	nodes.WithKubeletEndpoint(n, addr, port)
	// Only the InternalIP: the host API server (envtest) prefers Hostname,
	// which nothing resolves here.
	n.Status.Addresses = n.Status.Addresses[:1]
	if err := c.Status().Update(context.Background(), n); err != nil {
		b.t.Fatal(err)
	}
}

func spec(node string) corev1.PodSpec {
	return corev1.PodSpec{NodeName: node, AutomountServiceAccountToken: ptr.To(false), Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}
}

// virtualPod creates pod ns/name in vc, bound to node; it returns it.
func (b *bed) virtualPod(vc *virtualCluster, ns, name, node string) *corev1.Pod {
	b.t.Helper()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: spec(node)}
	b.create(vc.c, p)
	if err := vc.c.Get(context.Background(), client.ObjectKeyFromObject(p), p); err != nil {
		b.t.Fatal(err)
	}
	return p
}

// hostPod creates the host pod the syncer would make for v, changed by
// edit (a forgery) first.
func (b *bed) hostPod(vc *virtualCluster, v *corev1.Pod, node string, edit func(*metav1.ObjectMeta)) {
	b.t.Helper()
	tr, err := translate.New(vc.vc.Name, vc.vc.EffectiveHostNamespace())
	if err != nil {
		b.t.Fatal(err)
	}
	meta, err := tr.HostMeta("Pod", v)
	if err != nil {
		b.t.Fatal(err)
	}
	if edit != nil {
		edit(&meta)
	}
	b.create(b.host, &corev1.Pod{ObjectMeta: meta, Spec: spec(node)})
}

// kubeletClient is an HTTP client with vc's API server's kubelet client
// certificate (or cert, when given) that trusts vc's kubelet CA.
func kubeletClient(t *testing.T, vc *virtualCluster, cert *tls.Certificate) *http.Client {
	t.Helper()
	pk := filepath.Join(prov.StateDir(vc.vc), "pki")
	caPEM, err := os.ReadFile(filepath.Join(pk, "kubelet-ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
}

func keyPair(t *testing.T, dir, base string) pki.KeyPair {
	t.Helper()
	c, err := os.ReadFile(filepath.Join(dir, "pki", base+".crt"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := os.ReadFile(filepath.Join(dir, "pki", base+".key"))
	if err != nil {
		t.Fatal(err)
	}
	return pki.KeyPair{Cert: c, Key: k}
}

func tlsCert(t *testing.T, kp pki.KeyPair) *tls.Certificate {
	t.Helper()
	c, err := tls.X509KeyPair(kp.Cert, kp.Key)
	if err != nil {
		t.Fatal(err)
	}
	return &c
}

func get(c *http.Client, u string) (int, string, error) {
	resp, err := c.Get(u)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), nil
}

// TestKubeletProxy drives the proxy of virtual cluster a through its real
// API server and directly, with a table of hostile requests.
func TestKubeletProxy(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()
	a, vb := vcs["a"], vcs["b"]
	host.LogsOnFailure(t)

	// Host: one node whose kubelet is the fake; the virtual clusters'
	// host namespaces.
	b.node(b.host, "node-1", "127.0.0.1", fakeK.port())
	b.namespace(b.host, "vc-a")
	b.namespace(b.host, "vc-b")
	for _, v := range []*virtualCluster{a, vb} {
		b.namespace(v.c, "app")
		// What the nodes syncer writes: node-1 advertising the proxy.
		b.node(v.c, "node-1", "127.0.0.1", int32(v.proxy.Addr().Port))
	}

	web := b.virtualPod(a, "app", "web", "node-1")
	b.hostPod(a, web, "node-1", nil)
	// Forgeries under the host names of a's pods.
	foreign := b.virtualPod(a, "app", "foreign", "node-1")
	b.hostPod(a, foreign, "node-1", func(m *metav1.ObjectMeta) { m.Labels, m.Annotations = nil, nil })
	otherVC := b.virtualPod(a, "app", "other-vc", "node-1")
	b.hostPod(a, otherVC, "node-1", func(m *metav1.ObjectMeta) { m.Labels[translate.LabelVirtualCluster] = "b" })
	stale := b.virtualPod(a, "app", "stale", "node-1")
	b.hostPod(a, stale, "node-1", func(m *metav1.ObjectMeta) { m.Annotations[translate.AnnotationUID] = "uid-of-a-deleted-pod" })
	renamed := b.virtualPod(a, "app", "renamed", "node-1")
	b.hostPod(a, renamed, "node-1", func(m *metav1.ObjectMeta) { m.Annotations[translate.AnnotationName] = "web" })
	moved := b.virtualPod(a, "app", "moved", "node-2")
	b.hostPod(a, moved, "node-1", nil)
	b.virtualPod(a, "app", "unsynced", "node-1")
	// Virtual cluster b's own pod, synced, and one only b has.
	bweb := b.virtualPod(vb, "app", "web", "node-1")
	b.hostPod(vb, bweb, "node-1", nil)
	bonly := b.virtualPod(vb, "app", "only-in-b", "node-1")
	b.hostPod(vb, bonly, "node-1", nil)

	hostWeb := "web-x-app-x-a"

	t.Run("logs through the virtual API server reach the host pod", func(t *testing.T) {
		cs := kubernetes.NewForConfigOrDie(a.cfg)
		out, err := cs.CoreV1().Pods("app").GetLogs("web", &corev1.PodLogOptions{Container: "c", TailLines: ptr.To[int64](3), Timestamps: true}).DoRaw(ctx)
		if err != nil || string(out) != fakeLog {
			t.Fatalf("logs: %v: %q", err, out)
		}
		want := "/containerLogs/vc-a/" + hostWeb + "/c?tailLines=3&timestamps=true"
		if got := fakeK.saw("/containerLogs/vc-a/" + hostWeb); len(got) == 0 || got[len(got)-1] != want {
			t.Fatalf("the host kubelet saw %q, want %q", got, want)
		}
	})

	t.Run("exec through the virtual API server carries the command and streams", func(t *testing.T) {
		cs := kubernetes.NewForConfigOrDie(a.cfg)
		req := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace("app").Name("web").SubResource("exec").
			VersionedParams(&corev1.PodExecOptions{Container: "c", Command: []string{"echo", "hi there"}, Stdout: true, Stderr: true}, kubernetesParameterCodec)
		ex, err := remotecommand.NewSPDYExecutor(a.cfg, "POST", req.URL())
		if err != nil {
			t.Fatal(err)
		}
		// The fake kubelet speaks no SPDY: the stream fails, after the
		// request went all the way through.
		_ = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: io.Discard, Stderr: io.Discard})
		want := "/exec/vc-a/" + hostWeb + "/c?command=echo&command=hi+there&error=1&output=1"
		if got := fakeK.saw("/exec/vc-a/" + hostWeb); len(got) == 0 || got[len(got)-1] != want {
			t.Fatalf("the host kubelet saw %q, want %q", got, want)
		}
	})

	t.Run("hostile requests through the virtual API server", func(t *testing.T) {
		cs := kubernetes.NewForConfigOrDie(a.cfg)
		// A Node of the tenant's own making, pointing at virtual cluster
		// b's proxy.
		b.node(a.c, "evil", "127.0.0.1", int32(vb.proxy.Addr().Port))
		for _, c := range []struct{ name, path, want string }{
			{"forged host copy via nodes/proxy", "/api/v1/nodes/node-1/proxy/containerLogs/app/foreign/c", "is not the copy"},
			{"kubelet /pods via nodes/proxy", "/api/v1/nodes/node-1/proxy/pods", "is not served"},
			{"kubelet /run via nodes/proxy", "/api/v1/nodes/node-1/proxy/run/app/web/c", "is not served"},
			{"host node not in the virtual cluster", "/api/v1/nodes/host-only/proxy/containerLogs/app/web/c", "not found"},
			{"tenant's node pointing at another virtual cluster's proxy", "/api/v1/nodes/evil/proxy/containerLogs/app/web/c", "tls"},
			{"b's pod by a's proxy", "/api/v1/nodes/node-1/proxy/containerLogs/app/only-in-b/c", "does not exist in virtual cluster a"},
		} {
			out, err := cs.CoreV1().RESTClient().Get().AbsPath(c.path).DoRaw(ctx)
			// kube-apiserver proxies nodes/{name}/proxy to no loopback
			// address ("address not allowed"), and the proxies listen on
			// loopback here: such a request is refused before it reaches
			// any proxy, which is a refusal too. The proxy's own checks are
			// the next subtest's, request by request.
			msg := strings.ToLower(string(out))
			if err != nil {
				msg += strings.ToLower(err.Error())
			}
			if err == nil || !(strings.Contains(msg, strings.ToLower(c.want)) || strings.Contains(msg, "address not allowed")) {
				t.Errorf("%s: GET %s: got %v %q, want an error with %q", c.name, c.path, err, out, c.want)
				continue
			}
			t.Logf("%s: refused: %v", c.name, err)
		}
		if got := fakeK.saw("/containerLogs/vc-b/"); len(got) != 0 {
			t.Errorf("b's pods reached through a: %q", got)
		}
		for _, p := range []string{"/containerLogs/vc-a/foreign", "/pods", "/run/"} {
			if got := fakeK.saw(p); len(got) != 0 {
				t.Errorf("the host kubelet was reached at %q", got)
			}
		}
	})

	t.Run("hostile requests to the proxy itself", func(t *testing.T) {
		c := kubeletClient(t, a, tlsCert(t, keyPair(t, prov.StateDir(a.vc), "kubelet-client")))
		base := "https://" + a.proxy.Addr().String()
		for _, tc := range []struct {
			name, path string
			code       int
		}{
			{"own pod", "/containerLogs/app/web/c", 200},
			{"host copy without the mark", "/containerLogs/app/foreign/c", 403},
			{"host copy marked for another virtual cluster", "/containerLogs/app/other-vc/c", 403},
			{"host copy of an older pod (uid)", "/containerLogs/app/stale/c", 403},
			{"host copy of another pod (name annotation)", "/containerLogs/app/renamed/c", 403},
			{"pod bound to another node than its host copy", "/containerLogs/app/moved/c", 403},
			{"unsynced pod", "/containerLogs/app/unsynced/c", 404},
			{"another virtual cluster's pod", "/containerLogs/app/only-in-b/c", 404},
			{"host pod by its host name", "/containerLogs/vc-a/" + hostWeb + "/c", 404},
			{"container not in the pod", "/exec/app/web/sidecar?command=sh", 404},
			{"traversal", "/containerLogs/app/../vc-b/web/c", 400},
			{"encoded slash", "/containerLogs/app/web%2F..%2F..%2Fvc-b/c", 400},
			{"encoded dots", "/containerLogs/%2e%2e/app/web/c", 400},
			{"extra segment", "/containerLogs/app/web/c/x", 404},
			{"empty segment", "/containerLogs/app//c", 400},
			{"upper case", "/containerLogs/App/web/c", 404},
			{"kubelet /pods", "/pods", 404},
			// A trailing slash is not a plain path: refused before the
			// endpoint is even looked at.
			{"kubelet /runningpods", "/runningpods/", 400},
			{"kubelet /run", "/run/app/web/c", 404},
			{"kubelet /logs", "/logs/", 400},
			{"kubelet /stats", "/stats/summary", 404},
			{"kubelet /metrics", "/metrics", 404},
			{"kubelet /configz", "/configz", 404},
			{"kubelet /checkpoint", "/checkpoint/app/web/c", 404},
			{"kubelet /debug", "/debug/pprof/", 400},
		} {
			code, body, err := get(c, base+tc.path)
			if err != nil || code != tc.code {
				t.Errorf("%s: GET %s: %d %v %q, want %d", tc.name, tc.path, code, err, body, tc.code)
				continue
			}
			t.Logf("%-45s GET %-45s → %d %s", tc.name, tc.path, code, strings.TrimSpace(body))
		}
		req, _ := http.NewRequest(http.MethodDelete, base+"/exec/app/web/c", nil)
		if resp, err := c.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("DELETE /exec: %v %v, want 405", resp, err)
		}
	})

	t.Run("clients other than the virtual API server are refused", func(t *testing.T) {
		adir, bdir := prov.StateDir(a.vc), prov.StateDir(vb.vc)
		clusterCA := keyPair(t, adir, "ca")
		sameNameClusterCA, err := pki.ClientCert(clusterCA, "kube-apiserver-kubelet-client", nil)
		if err != nil {
			t.Fatal(err)
		}
		kubeletCA := keyPair(t, adir, "kubelet-ca")
		otherName, err := pki.ClientCert(kubeletCA, "system:node:node-1", []string{"system:nodes"})
		if err != nil {
			t.Fatal(err)
		}
		selfCA, err := pki.NewCA("kube-apiserver-kubelet-client")
		if err != nil {
			t.Fatal(err)
		}
		selfSigned, err := pki.ClientCert(selfCA, "kube-apiserver-kubelet-client", nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			cert *tls.Certificate
		}{
			{"no client certificate", nil},
			{"b's API server's kubelet client certificate", tlsCert(t, keyPair(t, bdir, "kubelet-client"))},
			{"a's admin certificate (cluster CA)", tlsCert(t, keyPair(t, adir, "admin"))},
			{"the right name from a's cluster CA (a tenant-approved CSR)", tlsCert(t, sameNameClusterCA)},
			{"a's kubelet CA, another name", tlsCert(t, otherName)},
			{"the right name, self-signed", tlsCert(t, selfSigned)},
		} {
			code, body, err := get(kubeletClient(t, a, tc.cert), "https://"+a.proxy.Addr().String()+"/containerLogs/app/web/c")
			if err == nil {
				t.Errorf("%s: served: %d %q", tc.name, code, body)
				continue
			}
			t.Logf("%-60s → %v", tc.name, err)
		}
	})
}

var kubernetesParameterCodec = runtimeParameterCodec()

func runtimeParameterCodec() runtime.ParameterCodec { return scheme.ParameterCodec }
