package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/api/audit"
	"github.com/vclusterkit/vclusterkit/api/auth"
	"github.com/vclusterkit/vclusterkit/internal/platformtest"
	"github.com/vclusterkit/vclusterkit/tenancy"
)

var (
	pf      *platformtest.Platform
	console *httptest.Server
)

// TestMain starts one platform (KWOK host, engine, OIDC issuer, API) and
// the console in front of its API.
func TestMain(m *testing.M) {
	var err error
	pf, err = platformtest.Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: starting the platform:", err)
		os.Exit(1)
	}
	code := func() int {
		defer pf.Stop()
		if err := pf.Fixture(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL: fixture:", err)
			return 1
		}
		authn := auth.Chain{OIDC: oidcOf(pf), Keys: pf.Keys}
		c, err := New(Options{API: pf.API, Authenticator: authn, Audit: pf.Audit})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		console = httptest.NewServer(c)
		defer console.Close()
		return m.Run()
	}()
	os.Exit(code)
}

func oidcOf(p *platformtest.Platform) auth.Authenticator {
	o, err := auth.NewOIDC(context.Background(), auth.OIDCOptions{IssuerURL: p.Issuer.URL(), ClientID: platformtest.ClientID})
	if err != nil {
		panic(err)
	}
	return o
}

// artifacts is where screenshots go: $VCLUSTERKIT_ARTIFACTS/console, else
// a directory under the system's temporary directory; the test logs it.
func artifacts(t *testing.T) string {
	dir := os.Getenv("VCLUSTERKIT_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "vclusterkit-artifacts")
	}
	dir = filepath.Join(dir, "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser starts headless Chromium (Debian's) with a fresh profile.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("headless Chromium is needed for the console tests: install chromium: apt-get install chromium (make test-deps does it): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(1280, 1400), chromedp.UserDataDir(t.TempDir()))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	// The first action starts the browser, which lives as long as that
	// action's context: run it on ctx itself, so the per-step timeouts of
	// do end steps, not the browser.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting headless Chromium (%s): %v", path, err)
	}
	return ctx
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	// The browser lives as long as ctx; one step may not hang the test.
	sctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		failShot(t, ctx)
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page, awaiting a promise.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		failShot(t, ctx)
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

func failShot(t *testing.T, ctx context.Context) {
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if shot, err := chromedp.Run(sctx, chromedp.FullScreenshot(100)); err == nil {
		p := filepath.Join(artifacts(t), "failure-"+strings.ReplaceAll(t.Name(), "/", "-")+".png")
		_ = os.WriteFile(p, shot, 0o644)
		t.Logf("screenshot of the failure: %s", p)
	}
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(artifacts(t), name+".png")
	if err := os.WriteFile(p, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}

func signIn(t *testing.T, ctx context.Context, token string) {
	t.Helper()
	do(t, ctx, "signing in",
		chromedp.Navigate(console.URL),
		chromedp.WaitVisible(chromedp.CSS("#signin-form")),
		chromedp.SetValue(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS("#signin-submit")),
		chromedp.WaitVisible(chromedp.CSS("#tree article")),
	)
}

// waitText waits until the element's text is want.
func waitText(sel, want string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.textContent.trim() === %q; })()`, sel, want),
		chromedp.WithPollingTimeout(4*time.Minute), chromedp.WithPollingInterval(200*time.Millisecond))
}

// TestAdminInBrowser: alice signs in, sees the tree with usage bars and
// inert markup, creates a virtual cluster and watches it become Running
// without a reload, sleeps and wakes it, looks at the reachability
// matrix, and deletes it.
func TestAdminInBrowser(t *testing.T) {
	ctx := browser(t)
	signIn(t, ctx, pf.Token("alice"))
	do(t, ctx, "reading the tree", chromedp.WaitVisible(chromedp.CSS("#tenant-acme .usage progress")))
	bars := eval[int](t, ctx, `document.querySelectorAll(".usage progress").length`)
	pwned := eval[string](t, ctx, `String(window.pwned)`)
	display := eval[string](t, ctx, `document.querySelector("#tenant-acme-web .display").textContent`)
	do(t, ctx, "the cost line", waitText("#tenant-acme .cost", "Cost this period (with descendants): 0.0000 USD"))
	if bars < 1 || pwned != "undefined" || !strings.Contains(display, "<img src=x") {
		t.Fatalf("usage bars %d, window.pwned %q, acme-web's display name shown as %q (want the markup as text)", bars, pwned, display)
	}
	screenshot(t, ctx, "tree")

	// Create; the phase turns Running through the event stream: the
	// marker set before would be gone after a reload.
	eval[string](t, ctx, `window.noReload = "yes"`)
	do(t, ctx, "creating a virtual cluster",
		chromedp.SetValue(chromedp.CSS(`#tenant-acme-data .create-vc input[name=name]`), "portal"),
		chromedp.Click(chromedp.CSS(`#tenant-acme-data .create-vc button`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-vc=portal]`)),
		waitText(`tr[data-vc=portal] .phase`, "Running"),
	)
	marker := eval[string](t, ctx, `String(window.noReload)`)
	if marker != "yes" {
		t.Fatal("the page reloaded to show the phase")
	}
	screenshot(t, ctx, "running")

	do(t, ctx, "sleeping",
		chromedp.Click(chromedp.CSS(`tr[data-vc=portal] button.sleep`)),
		waitText(`tr[data-vc=portal] .phase`, "Sleeping"),
	)
	screenshot(t, ctx, "sleeping")
	do(t, ctx, "waking",
		chromedp.WaitVisible(chromedp.CSS(`tr[data-vc=portal] button.wake`)),
		chromedp.Click(chromedp.CSS(`tr[data-vc=portal] button.wake`)),
		waitText(`tr[data-vc=portal] .phase`, "Running"),
	)

	// The kubeconfig link downloads the user's own kubeconfig (fetched
	// here by the page, same cookie, to read it).
	kc := eval[string](t, ctx, `fetch(document.querySelector("tr[data-vc=portal] a.kubeconfig").href).then(r => r.text())`)
	if !strings.Contains(kc, "client-certificate-data") || !strings.Contains(kc, "alice") {
		t.Fatalf("kubeconfig from the page: %.300s", kc)
	}

	do(t, ctx, "reachability",
		chromedp.Click(chromedp.CSS("#show-reach")),
		chromedp.WaitVisible(chromedp.CSS("#reach-table td")),
	)
	cells := eval[int](t, ctx, `document.querySelectorAll("#reach-table td").length`)
	if cells < 1 {
		t.Fatal("empty reachability matrix")
	}
	screenshot(t, ctx, "reachability")

	// Spaces and members from their forms; the tree re-renders after each,
	// so each step waits for the render the previous one caused.
	rendered := func() chromedp.Action[chromedp.Void] {
		n := eval[string](t, ctx, `document.querySelector("#tree").dataset.renders`)
		return chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelector("#tree").dataset.renders !== %q`, n), chromedp.WithPollingTimeout(time.Minute))
	}
	after := rendered()
	do(t, ctx, "showing the tree", chromedp.Click(chromedp.CSS("#show-tree")), after)
	after = rendered()
	do(t, ctx, "creating a space",
		chromedp.WaitVisible(chromedp.CSS(`#tenant-acme-data .create-space input[name=name]`)),
		chromedp.SetValue(chromedp.CSS(`#tenant-acme-data .create-space input[name=name]`), "portal-space"),
		chromedp.Click(chromedp.CSS(`#tenant-acme-data .create-space button`)),
		after,
		chromedp.WaitVisible(chromedp.CSS(`#tenant-acme-data li[data-space=portal-space]`)),
	)
	after = rendered()
	do(t, ctx, "adding a member",
		chromedp.SetValue(chromedp.CSS(`#tenant-acme-data .add-member input[name=name]`), "zoe"),
		chromedp.Click(chromedp.CSS(`#tenant-acme-data .add-member button`)),
		after,
		chromedp.Poll[chromedp.Void](`[...document.querySelectorAll("#tenant-acme-data .members li")].some(li => li.textContent.startsWith("User zoe: view"))`, chromedp.WithPollingTimeout(time.Minute)),
	)
	screenshot(t, ctx, "space-and-member")
	var tn tenancy.Tenant
	if err := pf.Client.Get(context.Background(), client.ObjectKey{Name: "acme-data"}, &tn); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(tn.Spec.Members, func(m tenancy.Member) bool { return m.Name == "zoe" && m.Role == tenancy.RoleView }) {
		t.Fatalf("acme-data's members after adding zoe: %+v", tn.Spec.Members)
	}
	after = rendered()
	do(t, ctx, "deleting the space",
		chromedp.Click(chromedp.CSS(`#tenant-acme-data li[data-space=portal-space] button.delete-space`)),
		after,
	)
	// The engine removes the namespace before the Space goes; the delete
	// has been asked for when the Space carries a deletion timestamp.
	var sp tenancy.Space
	if err := pf.Client.Get(context.Background(), client.ObjectKey{Name: "portal-space"}, &sp); err == nil && sp.DeletionTimestamp == nil {
		t.Fatal("the console's delete left space portal-space in place")
	}

	renders := eval[string](t, ctx, `document.querySelector("#tree").dataset.renders`)
	do(t, ctx, "deleting",
		chromedp.Click(chromedp.CSS("#show-tree")),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelector("#tree").dataset.renders !== %q`, renders), chromedp.WithPollingTimeout(time.Minute)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-vc=portal] button.delete`)),
		chromedp.Click(chromedp.CSS(`tr[data-vc=portal] button.delete`)),
		chromedp.WaitNotPresent(chromedp.CSS(`tr[data-vc=portal]`)),
	)
}

// TestNonAdminInBrowser: bob (edit in acme-web) sees no create button, and
// the API refuses his create with 403 even when sent from the page.
func TestNonAdminInBrowser(t *testing.T) {
	// A member whose name is markup (an admin may type any name): bob's
	// page lists it as text.
	const markup = `<img src=x onerror="window.pwned=2">eve`
	memberPath := "/api/v1/tenants/acme-web/members"
	if code, body := apiCall(t, "PUT", memberPath, pf.Token("alice"), `{"kind":"User","name":`+strconv.Quote(markup)+`,"role":"view"}`); code != 200 {
		t.Fatalf("adding a member named with markup: %d %s", code, body)
	}
	t.Cleanup(func() { apiCall(t, "DELETE", memberPath+"/User/"+url.PathEscape(markup), pf.Token("alice"), "") })
	ctx := browser(t)
	signIn(t, ctx, pf.Token("bob"))
	do(t, ctx, "looking for create buttons", chromedp.WaitVisible(chromedp.CSS("#tenant-acme-web")))
	forms := eval[int](t, ctx, `document.querySelectorAll("form.create-vc, form.create-space, form.add-member, button.delete").length`)
	status := eval[string](t, ctx, `fetch("/api/v1/virtualclusters", {method: "POST", headers: {"Content-Type": "application/json", "X-CSRF-Token": document.cookie.match(/vck_csrf=([^;]*)/)[1]}, body: JSON.stringify({name: "bobs", tenant: "acme-web"})}).then(async r => r.status + " " + (await r.text()).trim())`)
	noCSRF := eval[string](t, ctx, `fetch("/api/v1/virtualclusters/x/sleep", {method: "POST"}).then(async r => r.status + " " + (await r.text()).trim())`)
	member := eval[bool](t, ctx, `[...document.querySelectorAll("#tenant-acme-web .members li")].some(li => li.textContent.startsWith("User "+`+strconv.Quote(markup)+`))`)
	pwned := eval[string](t, ctx, `String(window.pwned)`)
	if forms != 0 {
		t.Fatalf("bob sees %d create forms", forms)
	}
	if !strings.HasPrefix(status, "403 ") {
		t.Fatalf("bob's create from the page: %s, want 403", status)
	}
	t.Logf("bob's create from the page → %s", status)
	if !strings.HasPrefix(noCSRF, "403 ") {
		t.Fatalf("a write without the CSRF token: %s, want 403", noCSRF)
	}
	t.Logf("a write from the page without the CSRF header → %s", noCSRF)
	if !member || pwned != "undefined" {
		t.Fatalf("member named %q listed as text: %v; window.pwned %q", markup, member, pwned)
	}
	screenshot(t, ctx, "non-admin")
}

// apiCall sends a request straight to the API with a bearer token.
func apiCall(t *testing.T, method, path, token, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, pf.Server.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestHeadersAndCSRF checks the answers a browser never shows: the CSP on
// the page, a cross-site write refused, a forged identity header ignored.
func TestHeadersAndCSRF(t *testing.T) {
	resp, err := http.Get(console.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Content-Security-Policy"); got != CSP || strings.Contains(got, "unsafe") {
		t.Fatalf("CSP %q", got)
	}
	// A cross-site form post to sign in or write is refused by origin.
	req, _ := http.NewRequest("POST", console.URL+"/api/v1/spaces", strings.NewReader(`{"name":"x","tenant":"acme"}`))
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("cross-site write: %d, want 403", resp.StatusCode)
	}
	t.Logf("cross-site write → %d %s", resp.StatusCode, strings.TrimSpace(string(b)))
	// Identity headers from a client are not read.
	req, _ = http.NewRequest("GET", console.URL+"/api/v1/whoami", nil)
	req.Header.Set("X-Forwarded-User", "alice")
	req.Header.Set("X-Remote-User", "alice")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("forged identity headers: %d, want 401", resp.StatusCode)
	}
	t.Logf("forged X-Forwarded-User/X-Remote-User → %d %s", resp.StatusCode, strings.TrimSpace(string(b)))
	// A bad token does not start a session.
	resp, err = http.PostForm(console.URL+"/session", url.Values{"token": {"vck_0123456789abcdef_nope"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || len(resp.Cookies()) != 0 {
		t.Fatalf("sign-in with a bad key: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	t.Logf("sign-in with an unknown key → %d %s", resp.StatusCode, strings.TrimSpace(string(b)))
	if !slices.ContainsFunc(pf.Audit.Events(), func(e audit.Event) bool {
		return e.Action == "session.start" && e.Result == audit.ResultDenied && e.Actor == "anonymous"
	}) {
		t.Fatal("the refused sign-in was not audited")
	}
}
