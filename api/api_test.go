package api_test

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/api"
	"github.com/vclusterkit/vclusterkit/api/audit"
	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster/kubeconfig"
)

// TestOpenAPICoversRoutes: every route the server registers is in the
// served document, and the document names no route the server lacks.
func TestOpenAPICoversRoutes(t *testing.T) {
	a := call(t, "GET", "/openapi.json", "", nil)
	if a.code != 200 {
		t.Fatalf("openapi: %d", a.code)
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	a.json(t, &doc)
	var documented []string
	for p, ops := range doc.Paths {
		for m := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+strings.TrimPrefix(p, api.Prefix))
		}
	}
	served := pf.API.Routes()
	sort.Strings(documented)
	sort.Strings(served)
	if diff := cmp.Diff(served, documented); diff != "" {
		t.Fatalf("routes served (-) vs documented (+):\n%s", diff)
	}
	if doc.OpenAPI != "3.0.3" || len(served) < 20 {
		t.Fatalf("openapi %q with %d routes", doc.OpenAPI, len(served))
	}
	// An unknown route answers JSON naming the document.
	if a := call(t, "GET", "/nothing", pf.Token("alice"), nil); a.code != 404 || !strings.Contains(a.err(t).Error.Message, "openapi.json") {
		t.Fatalf("unknown route: %d %s", a.code, a.body)
	}
	// A known path with a method it does not serve answers 405 naming
	// the methods it does.
	a = call(t, "PATCH", "/spaces", pf.Token("alice"), `{"name":"x"}`)
	if e := a.err(t); a.code != 405 || e.Error.Reason != "MethodNotAllowed" || a.hdr.Get("Allow") != "GET, POST" || !strings.Contains(e.Error.Message, "GET, POST") {
		t.Fatalf("PATCH /spaces: %d Allow %q %s, want 405 allowing GET, POST", a.code, a.hdr.Get("Allow"), a.body)
	}
	t.Logf("PATCH /spaces → %d Allow: %s %s", a.code, a.hdr.Get("Allow"), a.err(t).Error.Message)
}

// TestBadBodies: oversized bodies, unknown fields, wrong types, trailing
// data and invalid names are refused with the field named, and nothing is
// created.
func TestBadBodies(t *testing.T) {
	alice := pf.Token("alice")
	cases := []struct {
		name       string
		path       string
		body       any
		code       int
		field, msg string
	}{
		{"oversized", "/virtualclusters", `{"name":"big","tenant":"acme","kubernetesVersion":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "", "larger than"},
		{"unknown field", "/virtualclusters", `{"name":"u1","tenant":"acme","privileged":true}`, 400, "privileged", "unknown field"},
		// encoding/json alone would match keys case-insensitively and let
		// a repeated key win silently; neither is accepted.
		{"case-variant field", "/virtualclusters", `{"name":"u2","Tenant":"acme"}`, 400, "Tenant", "unknown field"},
		{"duplicate field", "/virtualclusters", `{"name":"u3","tenant":"acme-web","tenant":"acme"}`, 400, "tenant", "duplicate field"},
		// Every route that reads a body bounds it and knows its fields.
		{"oversized space", "/spaces", `{"name":"big-space","tenant":"acme","pad":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "", "larger than"},
		{"oversized member", "/tenants/acme/members", `{"kind":"User","name":"` + strings.Repeat("m", 70<<10) + `","role":"view"}`, 413, "", "larger than"},
		{"oversized key", "/apikeys", `{"name":"big-key","tenant":"acme","role":"view","expiresIn":"1h","pad":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "", "larger than"},
		{"unknown field space", "/spaces", `{"name":"u-space","tenant":"acme","namespace":"kube-system"}`, 400, "namespace", "unknown field"},
		{"unknown field member", "/tenants/acme/members", `{"kind":"User","name":"mallory","role":"admin","tenant":"globex"}`, 400, "tenant", "unknown field"},
		{"unknown field key", "/apikeys", `{"name":"u-key","tenant":"acme","role":"admin","expiresIn":"1h","scope":"*"}`, 400, "scope", "unknown field"},
		{"wrong type", "/virtualclusters", `{"name":5,"tenant":"acme"}`, 400, "name", "must be a string"},
		{"two values", "/virtualclusters", `{"name":"t1","tenant":"acme"}{"name":"t2"}`, 400, "", "one JSON value"},
		{"not json", "/virtualclusters", `name=x`, 400, "", "not valid JSON"},
		{"empty", "/virtualclusters", ``, 400, "", "JSON body is required"},
		{"upper-case name", "/virtualclusters", map[string]string{"name": "Web", "tenant": "acme"}, 400, "name", "RFC 1123"},
		{"markup name", "/spaces", map[string]string{"name": "<script>x</script>", "tenant": "acme"}, 400, "name", "RFC 1123"},
		{"reserved space", "/spaces", map[string]string{"name": "kube-system", "tenant": "acme"}, 400, "name", "reserved"},
		{"missing tenant", "/virtualclusters", map[string]string{"name": "x1"}, 400, "tenant", "required"},
		{"bad sleepAfter", "/virtualclusters", map[string]string{"name": "x2", "tenant": "acme", "sleepAfter": "soon"}, 400, "sleepAfter", "duration"},
		{"bad member kind", "/tenants/acme/members", map[string]string{"kind": "Robot", "name": "r2", "role": "view"}, 400, "kind", "User or Group"},
		{"system member", "/tenants/acme/members", map[string]string{"kind": "Group", "name": "system:masters", "role": "admin"}, 400, "name", "reserved"},
		{"bad limit", "/virtualclusters?limit=0", nil, 400, "limit", "1 to 500"},
		// Bodies a browser would send across sites without asking first
		// (text/plain, a form), or with no type at all, are not read as
		// JSON.
		{"text/plain body", "/spaces", typed{"text/plain", `{"name":"tp-space","tenant":"acme"}`}, 415, "", `Content-Type "text/plain" is not served`},
		{"form body", "/virtualclusters", typed{"application/x-www-form-urlencoded", `{"name":"tp","tenant":"acme"}`}, 415, "", "send the body as application/json"},
		{"untyped body", "/virtualclusters", typed{"", `{"name":"tp","tenant":"acme"}`}, 415, "", "the body has no Content-Type: send it as application/json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method := "POST"
			if strings.Contains(tc.path, "/members") {
				method = "PUT"
			}
			if tc.body == nil {
				method = "GET"
			}
			a := call(t, method, tc.path, alice, tc.body)
			e := a.err(t)
			if a.code != tc.code || e.Error.Field != tc.field || !strings.Contains(e.Error.Message, tc.msg) {
				t.Fatalf("got %d field %q %q, want %d field %q containing %q", a.code, e.Error.Field, e.Error.Message, tc.code, tc.field, tc.msg)
			}
			t.Logf("%s → %d field=%q %s", tc.name, a.code, e.Error.Field, firstLine(e.Error.Message))
		})
	}
	var vl corev1.NamespaceList
	_ = vl
	for _, vc := range []string{"big", "u1", "u2", "u3", "tp"} {
		if a := call(t, "GET", "/virtualclusters/"+vc, alice, nil); a.code != 404 {
			t.Fatalf("refused create left virtual cluster %s: %d", vc, a.code)
		}
	}
	for _, sp := range []string{"big-space", "u-space", "tp-space"} {
		if a := call(t, "GET", "/spaces/"+sp, alice, nil); a.code != 404 {
			t.Fatalf("refused create left space %s: %d", sp, a.code)
		}
	}
	var ml api.List[api.Member]
	call(t, "GET", "/tenants/acme/members", alice, nil).json(t, &ml)
	for _, m := range ml.Items {
		if m.Name == "mallory" || len(m.Name) > 253 {
			t.Fatalf("a refused member change added %s %.40s", m.Kind, m.Name)
		}
	}
	keys, err := pf.Keys.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.Name == "big-key" || k.Name == "u-key" {
			t.Fatalf("a refused request stored API key %s", k.Name)
		}
	}
}

func firstLine(s string) string {
	if len(s) > 160 {
		return s[:160] + "…"
	}
	return s
}

// TestTenantsMembersAndPages: the tree as each user sees it, with usage
// against quota; pagination; member changes by an admin only.
func TestTenantsMembersAndPages(t *testing.T) {
	alice, bob, dave := pf.Token("alice"), pf.Token("bob"), pf.Token("dave")
	var l api.List[api.Tenant]
	call(t, "GET", "/tenants", alice, nil).json(t, &l)
	var names []string
	for _, tn := range l.Items {
		names = append(names, tn.Name)
	}
	if diff := cmp.Diff([]string{"acme", "acme-data", "acme-web"}, names); diff != "" {
		t.Fatalf("alice's tenants (-want +got):\n%s", diff)
	}
	if l.Items[0].Role != tenancy.RoleAdmin || l.Items[0].Depth != 0 || l.Items[2].Parent != "acme" {
		t.Fatalf("acme as alice sees it: %+v", l.Items)
	}
	if u := l.Items[0].Usage; len(u) == 0 || u[0].Resource != "pods" || u[0].Hard != "20" {
		t.Fatalf("acme usage: %+v", u)
	}
	call(t, "GET", "/tenants", bob, nil).json(t, &l)
	if len(l.Items) != 1 || l.Items[0].Name != "acme-web" || l.Items[0].Role != tenancy.RoleEdit {
		t.Fatalf("bob's tenants: %+v", l.Items)
	}
	// A group member sees the tree through the group claim.
	call(t, "GET", "/tenants", pf.Token("erin", "acme-devs"), nil).json(t, &l)
	if len(l.Items) != 3 || l.Items[0].Role != tenancy.RoleView {
		t.Fatalf("acme-devs' tenants: %+v", l.Items)
	}
	// Pages of one.
	var got []string
	cont := ""
	for range 5 {
		var p api.List[api.Tenant]
		call(t, "GET", "/tenants?limit=1&continue="+cont, alice, nil).json(t, &p)
		for _, tn := range p.Items {
			got = append(got, tn.Name)
		}
		if cont = p.Continue; cont == "" {
			break
		}
	}
	if diff := cmp.Diff([]string{"acme", "acme-data", "acme-web"}, got); diff != "" {
		t.Fatalf("paged (-want +got):\n%s", diff)
	}
	if a := call(t, "GET", "/tenants?continue=!!!", alice, nil); a.code != 400 || a.err(t).Error.Field != "continue" {
		t.Fatalf("bad continue: %d %s", a.code, a.body)
	}
	// Another tree's tenant is not found, not forbidden.
	if a := call(t, "GET", "/tenants/globex", alice, nil); a.code != 404 {
		t.Fatalf("alice reading globex: %d", a.code)
	}
	// Members: dave cannot add himself to acme; alice can add and remove.
	a := call(t, "PUT", "/tenants/acme/members", dave, api.SetMember{Kind: "User", Name: "dave", Role: "admin"})
	if a.code != 404 {
		t.Fatalf("dave adding himself to acme: %d %s", a.code, a.body)
	}
	t.Logf("dave (not a member) adding himself to acme → %d %s", a.code, a.err(t).Error.Message)
	a = call(t, "PUT", "/tenants/acme-web/members", bob, api.SetMember{Kind: "User", Name: "bob", Role: "admin"})
	if a.code != 403 {
		t.Fatalf("bob (edit) making himself admin: %d %s", a.code, a.body)
	}
	t.Logf("bob (edit) making himself admin → %d %s", a.code, a.err(t).Error.Message)
	if a := call(t, "PUT", "/tenants/acme-web/members", alice, api.SetMember{Kind: "User", Name: "frank", Role: "view"}); a.code != 200 {
		t.Fatalf("alice adding frank: %d %s", a.code, a.body)
	}
	var ml api.List[api.Member]
	call(t, "GET", "/tenants/acme-web/members", bob, nil).json(t, &ml)
	want := map[string]string{"User/alice": "admin acme", "Group/acme-devs": "view acme", "User/bob": "edit acme-web", "User/frank": "view acme-web"}
	gotM := map[string]string{}
	for _, m := range ml.Items {
		gotM[string(m.Kind)+"/"+m.Name] = string(m.Role) + " " + m.From
	}
	if diff := cmp.Diff(want, gotM); diff != "" {
		t.Fatalf("members of acme-web (-want +got):\n%s", diff)
	}
	if a := call(t, "DELETE", "/tenants/acme-web/members/User/alice", alice, nil); a.code != 404 || !strings.Contains(a.err(t).Error.Message, "inherited") {
		t.Fatalf("removing an inherited member: %d %s", a.code, a.body)
	}
	if a := call(t, "DELETE", "/tenants/acme-web/members/User/frank", alice, nil); a.code != 204 {
		t.Fatalf("removing frank: %d %s", a.code, a.body)
	}
	// Audited with actor, action, tenant and result.
	evs := pf.Audit.Events()
	if !slices.ContainsFunc(evs, func(e audit.Event) bool {
		return e.Actor == "alice" && e.Action == "member.delete" && e.Tenant == "acme-web" && e.Target == "User/frank" && e.Result == audit.ResultSuccess && e.Code == 204
	}) || !slices.ContainsFunc(evs, func(e audit.Event) bool {
		return e.Actor == "bob" && e.Action == "member.set" && e.Result == audit.ResultDenied && e.Code == 403
	}) {
		t.Fatalf("audit events lack member.delete by alice or the refused member.set by bob: %+v", evs)
	}
}

// TestVirtualClusterLifecycle drives a virtual cluster through the API on
// the real engine: create (admin only), follow the phase over the event
// stream to Running, a short-lived kubeconfig that works, sleep and wake,
// reachability, delete.
func TestVirtualClusterLifecycle(t *testing.T) {
	ctx := context.Background()
	alice, bob, carol := pf.Token("alice"), pf.Token("bob"), pf.Token("carol")

	// The event stream, opened before the create.
	req, _ := http.NewRequestWithContext(ctx, "GET", pf.Server.URL+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+bob)
	sctx, cancelStream := context.WithCancel(ctx)
	defer cancelStream()
	req = req.WithContext(sctx)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("events content type %q", ct)
	}
	phases := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var ev api.Event
				if json.Unmarshal([]byte(d), &ev) == nil && ev.VirtualCluster != nil && ev.VirtualCluster.Name == "web" {
					phases <- ev.Type + " " + string(ev.VirtualCluster.Phase)
				}
			}
		}
		close(phases)
	}()

	a := call(t, "POST", "/virtualclusters", bob, api.CreateVirtualCluster{Name: "web", Tenant: "acme-web"})
	if a.code != 403 {
		t.Fatalf("bob (edit) creating: %d %s, want 403", a.code, a.body)
	}
	t.Logf("bob (edit) creating a virtual cluster → %d %s", a.code, a.err(t).Error.Message)
	a = call(t, "POST", "/virtualclusters", alice, api.CreateVirtualCluster{Name: "web", Tenant: "acme-web"})
	if a.code != 201 {
		t.Fatalf("alice creating: %d %s", a.code, a.body)
	}
	if a := call(t, "POST", "/virtualclusters", alice, api.CreateVirtualCluster{Name: "web", Tenant: "acme-web"}); a.code != 409 || a.err(t).Error.Field != "name" {
		t.Fatalf("creating it twice: %d %s, want 409 naming name", a.code, a.body)
	}
	if a := call(t, "GET", "/virtualclusters/web", carol, nil); a.code != 404 {
		t.Fatalf("carol (acme-data) reading web: %d, want 404", a.code)
	} else {
		t.Logf("carol (other subtree) reading web → %d %s", a.code, a.err(t).Error.Message)
	}
	seen := map[string]bool{}
	deadline := time.After(3 * time.Minute)
	for !seen["MODIFIED Running"] {
		select {
		case p, ok := <-phases:
			if !ok {
				t.Fatalf("event stream ended; saw %v", seen)
			}
			seen[p] = true
		case <-deadline:
			t.Fatalf("no Running event within 3 minutes; saw %v", seen)
		}
	}
	t.Logf("events seen by bob: %v", seen)

	// Kubeconfig: a short-lived certificate for alice that works.
	a = call(t, "GET", "/virtualclusters/web/kubeconfig", alice, nil)
	if a.code != 200 {
		t.Fatalf("kubeconfig: %d %s", a.code, a.body)
	}
	raw, err := clientcmd.Load(a.body)
	if err != nil {
		t.Fatal(err)
	}
	ai := raw.AuthInfos[raw.Contexts[raw.CurrentContext].AuthInfo]
	blk, _ := pem.Decode(ai.ClientCertificateData)
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "alice" || time.Until(cert.NotAfter) > 61*time.Minute || time.Until(cert.NotAfter) < 30*time.Minute {
		t.Fatalf("certificate for %q valid until %s (want alice, about an hour)", cert.Subject.CommonName, cert.NotAfter)
	}
	cfg, err := kubeconfig.RESTConfig(a.body)
	if err != nil {
		t.Fatal(err)
	}
	vcc, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "alice listing namespaces in web with her kubeconfig", func(ctx context.Context) (bool, string) {
		var nsl corev1.NamespaceList
		if err := vcc.List(ctx, &nsl); err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	// A group the tenant does not grant never reaches the certificate.
	a = call(t, "GET", "/virtualclusters/web/kubeconfig", pf.Token("bob", "system:masters", "acme-devs"), nil)
	if a.code != 200 {
		t.Fatalf("bob's kubeconfig: %d %s", a.code, a.body)
	}
	raw, _ = clientcmd.Load(a.body)
	blk, _ = pem.Decode(raw.AuthInfos[raw.Contexts[raw.CurrentContext].AuthInfo].ClientCertificateData)
	cert, _ = x509.ParseCertificate(blk.Bytes)
	if diff := cmp.Diff([]string{"acme-devs"}, cert.Subject.Organization); diff != "" {
		t.Fatalf("groups in bob's certificate (-want +got):\n%s", diff)
	}

	// Sleep (edit may) and wake.
	if a := call(t, "POST", "/virtualclusters/web/sleep", bob, nil); a.code != 200 {
		t.Fatalf("bob sleeping web: %d %s", a.code, a.body)
	}
	waitPhase(t, alice, "web", "Sleeping")
	if a := call(t, "GET", "/virtualclusters/web/kubeconfig", alice, nil); a.code != 409 || !strings.Contains(a.err(t).Error.Message, "Sleeping") {
		t.Fatalf("kubeconfig while asleep: %d %s", a.code, a.body)
	}
	if a := call(t, "POST", "/virtualclusters/web/wake", bob, nil); a.code != 200 {
		t.Fatalf("bob waking web: %d %s", a.code, a.body)
	}
	waitPhase(t, alice, "web", "Running")

	// Reachability over alice's namespaces: the VC's namespace reaches itself.
	var rm api.Reachability
	call(t, "GET", "/reachability", alice, nil).json(t, &rm)
	i := slices.Index(rm.Names, "acme-web-vc-web")
	if i < 0 || !rm.Allowed[i][i] {
		t.Fatalf("reachability: %+v", rm)
	}

	// Delete: bob may not, alice may; it goes away.
	if a := call(t, "DELETE", "/virtualclusters/web", bob, nil); a.code != 403 {
		t.Fatalf("bob deleting: %d", a.code)
	} else {
		t.Logf("bob (edit) deleting a virtual cluster → %d %s", a.code, a.err(t).Error.Message)
	}
	if a := call(t, "DELETE", "/virtualclusters/web", alice, nil); a.code != 202 {
		t.Fatalf("alice deleting: %d %s", a.code, a.body)
	}
	testenv.Eventually(t, 2*time.Minute, "web to be gone", func(ctx context.Context) (bool, string) {
		a := call(t, "GET", "/virtualclusters/web", alice, nil)
		return a.code == 404, string(a.body)
	})
	for _, action := range []string{"virtualcluster.create", "virtualcluster.sleep", "virtualcluster.wake", "virtualcluster.delete"} {
		if !slices.ContainsFunc(pf.Audit.Events(), func(e audit.Event) bool {
			return e.Action == action && e.Target == "web" && e.Tenant == "acme-web" && e.Result == audit.ResultSuccess
		}) {
			t.Errorf("no successful %s of web audited", action)
		}
	}
}

func waitPhase(t *testing.T, token, name, phase string) {
	t.Helper()
	testenv.Eventually(t, 2*time.Minute, name+" to be "+phase, func(ctx context.Context) (bool, string) {
		var v api.VirtualCluster
		a := call(t, "GET", "/virtualclusters/"+name, token, nil)
		if err := json.Unmarshal(a.body, &v); err != nil {
			return false, string(a.body)
		}
		return v.Phase == "Sleeping" && phase == "Sleeping" || string(v.Phase) == phase, string(v.Phase) + " " + v.Message
	})
}
