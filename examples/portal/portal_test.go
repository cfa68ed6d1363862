package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	vclusterkit "github.com/vclusterkit/vclusterkit"
	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/kubeconfig"
)

var apiServer *testenv.APIServer

// TestMain starts a real kube-apiserver + etcd with the tenancy and
// vcluster CRDs. No engine runs: the tests create the objects (and the
// Secrets the engine would write) directly.
func TestMain(m *testing.M) {
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, f := range []func() ([]*apiextensionsv1.CustomResourceDefinition, error){tenancy.CRDs, vcluster.CRDs} {
		l, err := f()
		if err != nil {
			panic(err)
		}
		crds = append(crds, l...)
	}
	testenv.Main(m, testenv.APIServerOptions{CRDs: crds}, &apiServer)
}

const vcNS = "vclusterkit-system"

// fixture is the host state every test reads:
//
//	acme (alice: User admin, acme-devs: Group view)
//	├── acme-web (bob: User edit, Bob: User view; isolation tenant) space acme-web-dev, vc web (Running)
//	└── acme-data (carol: User admin; isolation strict)      space acme-data-etl, vc etl (Provisioning)
//	globex (dave: User admin)                                  space globex-prod, vc prod (Running)
type fixture struct {
	c       client.Client
	srv     *httptest.Server
	configs map[string][]byte // secret name → kubeconfig
}

var fx *fixture

func setup(t *testing.T) *fixture {
	t.Helper()
	if fx != nil {
		return fx
	}
	c, err := newClient(apiServer.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f := &fixture{c: c, configs: map[string][]byte{}}
	tenants := []tenancy.Tenant{
		{ObjectMeta: metav1.ObjectMeta{Name: "acme"}, Spec: tenancy.TenantSpec{DisplayName: "ACME Corp",
			Members: []tenancy.Member{{Kind: tenancy.MemberUser, Name: "alice", Role: tenancy.RoleAdmin}, {Kind: tenancy.MemberGroup, Name: "acme-devs", Role: tenancy.RoleView}},
			Quota:   corev1.ResourceList{corev1.ResourcePods: resource.MustParse("20")}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "acme-web"}, Spec: tenancy.TenantSpec{Parent: "acme",
			Members: []tenancy.Member{{Kind: tenancy.MemberUser, Name: "bob", Role: tenancy.RoleEdit}, {Kind: tenancy.MemberUser, Name: "Bob", Role: tenancy.RoleView}},
			Policy:  tenancy.Policy{NetworkIsolation: tenancy.IsolationTenant}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "acme-data"}, Spec: tenancy.TenantSpec{Parent: "acme",
			Members: []tenancy.Member{{Kind: tenancy.MemberUser, Name: "carol", Role: tenancy.RoleAdmin}},
			Policy:  tenancy.Policy{NetworkIsolation: tenancy.IsolationStrict}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "globex"}, Spec: tenancy.TenantSpec{
			Members: []tenancy.Member{{Kind: tenancy.MemberUser, Name: "dave", Role: tenancy.RoleAdmin}},
			Policy:  tenancy.Policy{NetworkIsolation: tenancy.IsolationTenant}}},
	}
	for i := range tenants {
		if err := c.Create(ctx, &tenants[i]); err != nil {
			t.Fatal(err)
		}
	}
	web := &tenancy.Tenant{}
	if err := c.Get(ctx, client.ObjectKey{Name: "acme-web"}, web); err != nil {
		t.Fatal(err)
	}
	web.Status.Usage = corev1.ResourceList{corev1.ResourcePods: resource.MustParse("3"), corev1.ResourceRequestsCPU: resource.MustParse("1500m")}
	if err := c.Status().Update(ctx, web); err != nil {
		t.Fatal(err)
	}
	var tl tenancy.TenantList
	if err := c.List(ctx, &tl); err != nil {
		t.Fatal(err)
	}
	tree, err := tenancy.NewTree(tl.Items, nil, tenancy.TreeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Namespaces carry the labels the engine gives them, so generated
	// policies select them as they would on a real host.
	nsFor := func(name, tenant, vc string) {
		l := map[string]string{tenancy.LabelTenant: tenant}
		for k, v := range tree.TreeLabels(tenant) {
			l[k] = v
		}
		if vc != "" {
			l[vcluster.LabelVirtualCluster] = vc
		}
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, sp := range []struct{ name, tenant string }{{"acme-web-dev", "acme-web"}, {"acme-data-etl", "acme-data"}, {"globex-prod", "globex"}} {
		if err := c.Create(ctx, &tenancy.Space{ObjectMeta: metav1.ObjectMeta{Name: sp.name}, Spec: tenancy.SpaceSpec{Tenant: sp.tenant}}); err != nil {
			t.Fatal(err)
		}
		nsFor(sp.name, sp.tenant, "")
	}
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: vcNS}}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []struct {
		name, tenant string
		phase        vcluster.Phase
	}{{"web", "acme-web", vcluster.PhaseRunning}, {"etl", "acme-data", vcluster.PhaseProvisioning}, {"prod", "globex", vcluster.PhaseRunning}} {
		vc := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: v.name, Namespace: vcNS},
			Spec: vcluster.VirtualClusterSpec{Tenant: v.tenant, HostNamespace: v.tenant + "-vc-" + v.name}}
		if err := c.Create(ctx, vc); err != nil {
			t.Fatal(err)
		}
		vc.Status.Phase = v.phase
		vc.Status.Endpoint = "https://127.0.0.1:6443/" + v.name
		if err := c.Status().Update(ctx, vc); err != nil {
			t.Fatal(err)
		}
		nsFor(v.tenant+"-vc-"+v.name, v.tenant, v.name)
	}
	// Member kubeconfigs as the engine writes them (only for Running ones).
	for _, m := range []struct{ vc, user string }{{"web", "bob"}, {"web", "alice"}, {"prod", "dave"}} {
		name := vclusterkit.MemberKubeconfigSecret(m.vc, m.user)
		kc := memberKubeconfig(t, m.user)
		f.configs[name] = kc
		if err := c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: vcNS},
			Data: map[string][]byte{kubeconfig.DefaultSecretKey: kc}}); err != nil {
			t.Fatal(err)
		}
	}
	p, err := New(Options{Client: c, VirtualClusterNamespace: vcNS})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(p)
	fx = f
	return f
}

// memberKubeconfig builds a kubeconfig whose client certificate names user.
func memberKubeconfig(t *testing.T, user string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: user},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	kc, err := kubeconfig.Build(kubeconfig.Config{Server: "https://127.0.0.1:6443", CA: certPEM, ClientCert: certPEM,
		ClientKey: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), User: user})
	if err != nil {
		t.Fatal(err)
	}
	return kc
}

type response struct {
	code int
	body string
	hdr  http.Header
}

// do sends a request as user (no header when user is ""), groups optional.
func (f *fixture) do(t *testing.T, method, path, user string, form url.Values, hdr map[string]string, groups ...string) response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if user != "" {
		req.Header.Set("X-Forwarded-User", user)
	}
	if len(groups) > 0 {
		req.Header.Set("X-Forwarded-Groups", strings.Join(groups, ","))
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, string(b), resp.Header}
}

func TestRequestsWithoutUserAreRejected(t *testing.T) {
	f := setup(t)
	for _, r := range []struct{ method, path string }{{"GET", "/"}, {"GET", "/reachability"}, {"GET", "/kubeconfig/" + vcNS + "/web"}, {"POST", "/virtualclusters"}} {
		var form url.Values
		if r.method == "POST" {
			form = url.Values{"tenant": {"acme"}, "name": {"sneaky"}}
		}
		if got := f.do(t, r.method, r.path, "", form, nil); got.code != http.StatusUnauthorized || !strings.Contains(got.body, "X-Forwarded-User missing") {
			t.Errorf("%s %s without a user: %d %q", r.method, r.path, got.code, got.body)
		}
		if got := f.do(t, r.method, r.path, "", form, map[string]string{"X-Forwarded-User": "   "}); got.code != http.StatusUnauthorized {
			t.Errorf("%s %s with a blank user: %d", r.method, r.path, got.code)
		}
	}
	if err := f.c.Get(context.Background(), client.ObjectKey{Namespace: vcNS, Name: "sneaky"}, &vcluster.VirtualCluster{}); err == nil {
		t.Error("an unauthenticated POST created a virtual cluster")
	}
}

func TestTreePage(t *testing.T) {
	f := setup(t)
	got := f.do(t, "GET", "/", "alice", nil, nil)
	if got.code != http.StatusOK {
		t.Fatalf("GET / = %d %s", got.code, got.body)
	}
	b := got.body
	for _, want := range []string{
		`<strong id="user">alice</strong>`,
		`id="tenant-acme"`, "ACME Corp", `id="tenant-acme-web"`, `id="tenant-acme-data"`, `id="tenant-globex"`,
		`Quota: <span class="quota">pods=20</span>`,
		`Usage: <span class="usage">pods=3, requests.cpu=1500m</span>`,
		"User bob (edit)", "Group acme-devs (view)",
		"<td>acme-web-dev</td>", "<td>acme-data-etl</td>", "<td>globex-prod</td>",
		`id="vc-vclusterkit-system-web"`, `<td class="phase">Running</td>`, `<td class="phase">Provisioning</td>`,
		`<a href="/kubeconfig/vclusterkit-system/web">download yours</a>`, // member through acme
		`<a href="/kubeconfig/vclusterkit-system/etl">download yours</a>`,
		`<input type="hidden" name="tenant" value="acme-web">`, // admin through acme
	} {
		if !strings.Contains(b, want) {
			t.Errorf("tree page for alice lacks %q", want)
		}
	}
	for _, notWant := range []string{`href="/kubeconfig/vclusterkit-system/prod"`, `value="globex">`} {
		if strings.Contains(b, notWant) {
			t.Errorf("tree page for alice offers %q, which is globex's", notWant)
		}
	}
	// Nesting: acme-web's section is inside acme's.
	if i, j := strings.Index(b, `id="tenant-acme"`), strings.Index(b, `id="tenant-acme-web"`); !(i >= 0 && j > i) {
		t.Error("acme-web is not rendered under acme")
	}
	// dave sees globex's link and form, nothing of acme's.
	d := f.do(t, "GET", "/", "dave", nil, nil).body
	if !strings.Contains(d, `href="/kubeconfig/vclusterkit-system/prod"`) || strings.Contains(d, `href="/kubeconfig/vclusterkit-system/web"`) ||
		!strings.Contains(d, `value="globex">`) || strings.Contains(d, `value="acme-web">`) {
		t.Error("dave's page offers the wrong kubeconfigs or forms")
	}
	// Escaping: a display name is text, not markup.
	acme := &tenancy.Tenant{}
	if err := f.c.Get(context.Background(), client.ObjectKey{Name: "acme"}, acme); err != nil {
		t.Fatal(err)
	}
	acme.Spec.DisplayName = "<script>alert(1)</script>"
	if err := f.c.Update(context.Background(), acme); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = f.c.Get(context.Background(), client.ObjectKey{Name: "acme"}, acme)
		acme.Spec.DisplayName = "ACME Corp"
		_ = f.c.Update(context.Background(), acme)
	}()
	if b := f.do(t, "GET", "/", "alice", nil, nil).body; strings.Contains(b, "<script>alert") || !strings.Contains(b, "&lt;script&gt;") {
		t.Error("display name not escaped")
	}
}

func TestKubeconfigDownloadOnlyForMembers(t *testing.T) {
	f := setup(t)
	cases := []struct {
		user, vc string
		groups   []string
		code     int
		want     string // body substring, or the secret whose content must be served
	}{
		{"bob", "web", nil, 200, vclusterkit.MemberKubeconfigSecret("web", "bob")},
		{"alice", "web", nil, 200, vclusterkit.MemberKubeconfigSecret("web", "alice")}, // through ancestor acme
		{"dave", "prod", nil, 200, vclusterkit.MemberKubeconfigSecret("prod", "dave")},
		{"bob", "prod", nil, 403, "bob is not a member of tenant globex"},
		{"dave", "web", nil, 403, "dave is not a member of tenant acme-web"},
		{"carol", "web", nil, 403, "carol is not a member of tenant acme-web"}, // sibling tenant
		{"eve", "web", []string{"acme-devs"}, 403, "through a group"},
		{"mallory", "web", []string{"globex-devs"}, 403, "not a member"},
		{"Bob", "web", nil, 404, "not issued yet"}, // Bob's Secret is not bob's: names never fold together
		{"carol", "etl", nil, 404, "not issued yet"},
		{"bob", "nope", nil, 404, "no virtual cluster"},
	}
	for _, tc := range cases {
		got := f.do(t, "GET", "/kubeconfig/"+vcNS+"/"+tc.vc, tc.user, nil, nil, tc.groups...)
		if got.code != tc.code {
			t.Errorf("%s downloading %s: %d, want %d (%s)", tc.user, tc.vc, got.code, tc.code, got.body)
			continue
		}
		if tc.code == 200 {
			if got.body != string(f.configs[tc.want]) {
				t.Errorf("%s downloading %s got a different kubeconfig than Secret %s", tc.user, tc.vc, tc.want)
			}
			if cd := got.hdr.Get("Content-Disposition"); !strings.Contains(cd, tc.vc+".kubeconfig") || got.hdr.Get("Cache-Control") != "no-store" {
				t.Errorf("headers: %v", got.hdr)
			}
			if cn, err := clientCertCN([]byte(got.body)); err != nil || cn != tc.user {
				t.Errorf("%s got a kubeconfig for %q (%v)", tc.user, cn, err)
			}
		} else if !strings.Contains(got.body, tc.want) {
			t.Errorf("%s downloading %s: body %q lacks %q", tc.user, tc.vc, got.body, tc.want)
		}
	}
}

var (
	rowRE  = regexp.MustCompile(`<tr><th>([^<]+)</th>(.*?)</tr>`)
	cellRE = regexp.MustCompile(`<span class="(ok|no)">`)
	headRE = regexp.MustCompile(`<th>([^<]+)</th>`)
)

// matrix parses the reachability table: from → to → reachable.
func matrix(t *testing.T, body string) map[string]map[string]bool {
	t.Helper()
	start := strings.Index(body, `<table id="matrix">`)
	if start < 0 {
		t.Fatalf("no matrix in page:\n%s", body)
	}
	body = body[start:]
	head := body[:strings.Index(body, "</tr>")]
	var cols []string
	for _, m := range headRE.FindAllStringSubmatch(head, -1)[1:] {
		cols = append(cols, short(m[1]))
	}
	out := map[string]map[string]bool{}
	for _, m := range rowRE.FindAllStringSubmatch(body, -1) {
		cells := cellRE.FindAllStringSubmatch(m[2], -1)
		if len(cells) != len(cols) {
			continue // the header row
		}
		row := map[string]bool{}
		for i, c := range cells {
			row[cols[i]] = c[1] == "ok"
		}
		out[short(m[1])] = row
	}
	return out
}

// short turns "space/acme-web-dev[acme-web,tenant]" into "acme-web-dev".
func short(s string) string {
	s = s[strings.Index(s, "/")+1:]
	if i := strings.IndexAny(s, "/["); i >= 0 {
		s = s[:i]
	}
	return s
}

func TestReachabilityMatrix(t *testing.T) {
	f := setup(t)
	gen := f.do(t, "GET", "/reachability?policies=generated", "bob", nil, nil)
	if gen.code != 200 || !strings.Contains(gen.body, "generated by the engine") {
		t.Fatalf("generated: %d %s", gen.code, gen.body)
	}
	m := matrix(t, gen.body)
	if len(m) != 6 {
		t.Fatalf("matrix has %d rows, want 3 spaces + 3 virtual clusters: %v", len(m), m)
	}
	for _, c := range []struct {
		from, to string
		ok       bool
	}{
		{"acme-web-dev", "acme-web-vc-web", true},    // same tenant, tenant isolation
		{"acme-web-vc-web", "acme-web-dev", true},    //
		{"acme-web-dev", "globex-prod", false},       // other tenant
		{"globex-prod", "acme-web-dev", false},       //
		{"acme-web-dev", "acme-data-etl", false},     // strict sibling
		{"acme-data-etl", "acme-data-vc-etl", false}, // strict: own namespace only
		{"globex-prod", "globex-vc-prod", true},
	} {
		if got := m[c.from][c.to]; got != c.ok {
			t.Errorf("generated %s → %s reachable=%v, want %v", c.from, c.to, got, c.ok)
		}
	}

	// In force: no policies on the host yet, so everything is reachable...
	inForce := matrix(t, f.do(t, "GET", "/reachability", "bob", nil, nil).body)
	if !inForce["acme-web-dev"]["globex-prod"] || !inForce["acme-data-etl"]["acme-web-dev"] {
		t.Errorf("with no NetworkPolicies every namespace should reach every other: %v", inForce)
	}
	// ...until one is: a default-deny ingress in globex-prod.
	np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "deny-in", Namespace: "globex-prod"},
		Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}}
	if err := f.c.Create(context.Background(), np); err != nil {
		t.Fatal(err)
	}
	defer f.c.Delete(context.Background(), np)
	inForce = matrix(t, f.do(t, "GET", "/reachability", "bob", nil, nil).body)
	if inForce["acme-web-dev"]["globex-prod"] || !inForce["globex-prod"]["acme-web-dev"] {
		t.Errorf("deny-in on globex-prod not reflected: %v", inForce)
	}
}

func TestCreateVirtualCluster(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	post := func(user, tenant, name string, hdr map[string]string) response {
		return f.do(t, "POST", "/virtualclusters", user, url.Values{"tenant": {tenant}, "name": {name}}, hdr)
	}
	got := post("alice", "acme-web", "qa", nil)
	if got.code != http.StatusSeeOther || got.hdr.Get("Location") != "/#vc-vclusterkit-system-qa" {
		t.Fatalf("alice creating qa: %d %s", got.code, got.body)
	}
	vc := &vcluster.VirtualCluster{}
	if err := f.c.Get(ctx, client.ObjectKey{Namespace: vcNS, Name: "qa"}, vc); err != nil {
		t.Fatal(err)
	}
	if vc.Spec.Tenant != "acme-web" || vc.Spec.HostNamespace != "acme-web-vc-qa" || vc.Annotations["portal.vclusterkit.io/created-by"] != "alice" {
		t.Errorf("created %+v %v", vc.Spec, vc.Annotations)
	}
	if !strings.Contains(f.do(t, "GET", "/", "alice", nil, nil).body, `id="vc-vclusterkit-system-qa"`) {
		t.Error("the new virtual cluster is not listed")
	}
	for _, tc := range []struct {
		user, tenant, name string
		hdr                map[string]string
		code               int
		want               string
	}{
		{"alice", "acme-web", "qa", nil, http.StatusConflict, "already exists"},
		{"bob", "acme-web", "bobs", nil, http.StatusForbidden, "only admins of tenant acme-web"}, // edit is not enough
		{"alice", "globex", "intruder", nil, http.StatusForbidden, "only admins of tenant globex"},
		{"alice", "nope", "x", nil, http.StatusBadRequest, `tenant: &#34;nope&#34; does not exist`},
		{"alice", "acme-web", "Bad_Name", nil, http.StatusBadRequest, "metadata.name"},
		{"alice", "acme-web", strings.Repeat("x", 41), nil, http.StatusBadRequest, "metadata.name"},
		{"alice", "acme-web", "csrf", map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden, ""},
	} {
		got := post(tc.user, tc.tenant, tc.name, tc.hdr)
		if got.code != tc.code || !strings.Contains(got.body, tc.want) {
			t.Errorf("%s creating %s/%s: %d %q, want %d with %q", tc.user, tc.tenant, tc.name, got.code, got.body, tc.code, tc.want)
		}
		if tc.code != http.StatusConflict {
			if err := f.c.Get(ctx, client.ObjectKey{Namespace: vcNS, Name: tc.name}, &vcluster.VirtualCluster{}); err == nil {
				t.Errorf("refused request still created %s", tc.name)
			}
		}
	}
	// GET is not a way to create.
	if got := f.do(t, "GET", "/virtualclusters?tenant=acme-web&name=viaget", "alice", nil, nil); got.code != http.StatusMethodNotAllowed && got.code != http.StatusNotFound {
		t.Errorf("GET /virtualclusters: %d", got.code)
	}
}

// TestInvalidTenantDoesNotBreakThePortal: a tenant whose parent does not
// exist is listed as left out (with the reason naming the field); the rest
// of the tree, downloads and the matrix keep working.
func TestInvalidTenantDoesNotBreakThePortal(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	orphan := &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "orphan"}, Spec: tenancy.TenantSpec{Parent: "missing",
		Members: []tenancy.Member{{Kind: tenancy.MemberUser, Name: "bob", Role: tenancy.RoleAdmin}}}}
	if err := f.c.Create(ctx, orphan); err != nil {
		t.Fatal(err)
	}
	defer f.c.Delete(ctx, orphan)
	got := f.do(t, "GET", "/", "bob", nil, nil)
	if got.code != 200 || !strings.Contains(got.body, `id="tenant-acme-web"`) {
		t.Fatalf("GET / with an invalid tenant: %d", got.code)
	}
	if !regexp.MustCompile(`<li>tenant/orphan: tenants\[orphan\]\.spec\.parent[^<]*missing`).MatchString(got.body) {
		t.Errorf("the orphan is not listed as left out with its reason:\n%s", got.body[strings.Index(got.body, "</nav>"):])
	}
	if strings.Contains(got.body, `id="tenant-orphan"`) || strings.Contains(got.body, `value="orphan">`) {
		t.Error("the invalid tenant is rendered in the tree, with a create form")
	}
	if got := f.do(t, "GET", "/kubeconfig/"+vcNS+"/web", "bob", nil, nil); got.code != 200 {
		t.Errorf("download with an invalid tenant around: %d %s", got.code, got.body)
	}
	if got := f.do(t, "POST", "/virtualclusters", "bob", url.Values{"tenant": {"orphan"}, "name": {"x"}}, nil); got.code != http.StatusBadRequest {
		t.Errorf("creating for the invalid tenant: %d", got.code)
	}
	if got := f.do(t, "GET", "/reachability?policies=generated", "bob", nil, nil); got.code != 200 {
		t.Errorf("reachability with an invalid tenant: %d %s", got.code, got.body)
	}
}
