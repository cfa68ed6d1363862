package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/vclusterkit/vclusterkit/api"
	"github.com/vclusterkit/vclusterkit/api/auth"
	"github.com/vclusterkit/vclusterkit/internal/platformtest"
	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/quota/showback"
	"github.com/vclusterkit/vclusterkit/tenancy"
)

var pf *platformtest.Platform

// TestMain starts one platform (KWOK host, engine, OIDC issuer, API).
func TestMain(m *testing.M) {
	var err error
	pf, err = platformtest.Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: starting the platform:", err)
		os.Exit(1)
	}
	if err := pf.Fixture(context.Background()); err != nil {
		pf.Stop()
		fmt.Fprintln(os.Stderr, "FAIL: fixture:", err)
		os.Exit(1)
	}
	code := m.Run()
	pf.Stop()
	os.Exit(code)
}

// user is one person's CLI: a HOME of their own.
type user struct {
	t    *testing.T
	home string
	env  map[string]string
}

func newUser(t *testing.T) *user {
	home := t.TempDir()
	return &user{t: t, home: home, env: map[string]string{"HOME": home, "KUBECONFIG": filepath.Join(home, "kube", "config")}}
}

// run runs vck with args and returns stdout, stderr and the error.
func (u *user) run(args ...string) (string, string, error) {
	u.t.Helper()
	var out, errOut bytes.Buffer
	cmd := newRoot(&out, &errOut, func(k string) string { return u.env[k] })
	cmd.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

func (u *user) must(args ...string) string {
	u.t.Helper()
	out, errOut, err := u.run(args...)
	if err != nil {
		u.t.Fatalf("vck %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// fails runs a command that must fail with an error containing each of want.
func (u *user) fails(args []string, want ...string) {
	u.t.Helper()
	_, _, err := u.run(args...)
	if err == nil {
		u.t.Fatalf("vck %s succeeded, want an error", strings.Join(args, " "))
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			u.t.Fatalf("vck %s: error %q, want it to contain %q", strings.Join(args, " "), err, w)
		}
	}
	u.t.Logf("vck %s → %v", strings.Join(args, " "), err)
}

func TestErrorsSayWhatToDo(t *testing.T) {
	u := newUser(t)
	u.fails([]string{"vc", "list"}, "not signed in", "vck login")
	u.fails([]string{"login", "--server", "http://127.0.0.1:1", "--token", "x"}, "cannot reach", "is the server running")
	u.fails([]string{"login", "--server", pf.Server.URL, "--token", "not-a-token"}, "ID token refused", "sign in again")
	u.fails([]string{"login", "--server", pf.Server.URL}, "exactly one of --api-key, --token and --oidc-issuer")
	u.fails([]string{"login", "--server", pf.Server.URL, "--oidc-issuer", pf.Issuer.URL()}, "--client-id is required")
	u.must("login", "--server", pf.Server.URL, "--token", pf.Token("bob"))
	u.fails([]string{"vc", "create", "nope", "--tenant", "acme-web"}, "needs the admin role", "ask an admin")
	u.fails([]string{"vc", "create", "nope", "--tenant", "globex"}, "not found", "vck tree")
	u.fails([]string{"vc", "create", "Nope", "--tenant", "acme-web"}, "name:", "fix name")
	u.fails([]string{"vc", "describe", "missing"}, "not found")
	u.fails([]string{"tree", "-o", "xml"}, "want table, json or yaml")
	if out := u.must("completion", "bash"); !strings.Contains(out, "__start_vck") {
		t.Fatalf("bash completion: %.200s", out)
	}
}

// TestCLIEndToEnd: alice signs in, reads the tree, creates a space and a
// virtual cluster, connects kubectl's config to it (keeping her other
// contexts), sleeps and wakes it, and deletes both.
func TestCLIEndToEnd(t *testing.T) {
	u := newUser(t)
	_, errOut, err := u.run("login", "--server", pf.Server.URL, "--token", pf.Token("alice"))
	if err != nil || !strings.Contains(errOut, "signed in") || !strings.Contains(errOut, "alice") {
		t.Fatalf("login: %v %s", err, errOut)
	}
	if fi, err := os.Stat(filepath.Join(u.home, ".config", "vck", "config.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v %v", fi, err)
	}
	tree := u.must("tree")
	if !strings.Contains(tree, "acme ") || !strings.Contains(tree, "  acme-web") || !strings.Contains(tree, "pods 0/20") {
		t.Fatalf("tree:\n%s", tree)
	}
	var ts []api.Tenant
	if err := yaml.Unmarshal([]byte(u.must("tree", "-o", "yaml")), &ts); err != nil || len(ts) != 3 {
		t.Fatalf("tree -o yaml: %v %+v", err, ts)
	}

	u.must("space", "create", "cli-space", "--tenant", "acme-data")
	if out := u.must("space", "list"); !strings.Contains(out, "cli-space") {
		t.Fatalf("space list:\n%s", out)
	}
	var sp api.Space
	if err := json.Unmarshal([]byte(u.must("space", "describe", "cli-space", "-o", "json")), &sp); err != nil || sp.Tenant != "acme-data" {
		t.Fatalf("space describe: %v %+v", err, sp)
	}

	var v api.VirtualCluster
	if err := json.Unmarshal([]byte(u.must("vc", "create", "cli", "--tenant", "acme-data", "--wait", "-o", "json")), &v); err != nil || v.Phase != "Running" {
		t.Fatalf("vc create --wait: %v %+v", err, v)
	}
	if out := u.must("vc", "list"); !strings.Contains(out, "cli") || !strings.Contains(out, "Running") {
		t.Fatalf("vc list:\n%s", out)
	}
	if out := u.must("vc", "describe", "cli"); !strings.Contains(out, "acme-data-vc-cli") {
		t.Fatalf("vc describe:\n%s", out)
	}
	if out := u.must("kubeconfig", "cli"); !strings.Contains(out, "client-certificate-data") {
		t.Fatalf("kubeconfig:\n%.300s", out)
	}

	// connect merges into an existing kubeconfig and switches context.
	kpath := u.env["KUBECONFIG"]
	other := clientcmdapi.NewConfig()
	other.Clusters["prod"] = &clientcmdapi.Cluster{Server: "https://prod.example.com"}
	other.AuthInfos["prod"] = &clientcmdapi.AuthInfo{Token: "t"}
	other.Contexts["prod"] = &clientcmdapi.Context{Cluster: "prod", AuthInfo: "prod"}
	other.CurrentContext = "prod"
	if err := os.MkdirAll(filepath.Dir(kpath), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := clientcmd.WriteToFile(*other, kpath); err != nil {
		t.Fatal(err)
	}
	_, errOut, err = u.run("connect", "cli")
	if err != nil || !strings.Contains(errOut, `switched to context "vck-cli"`) {
		t.Fatalf("connect: %v %s", err, errOut)
	}
	merged, err := clientcmd.LoadFromFile(kpath)
	if err != nil {
		t.Fatal(err)
	}
	if merged.CurrentContext != "vck-cli" || merged.Contexts["prod"] == nil {
		t.Fatalf("merged kubeconfig: current %q, contexts %v", merged.CurrentContext, merged.Contexts)
	}
	cfg, err := clientcmd.NewDefaultClientConfig(*merged, nil).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	vcc, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "alice listing namespaces through the connected context", func(ctx context.Context) (bool, string) {
		var nsl corev1.NamespaceList
		if err := vcc.List(ctx, &nsl); err != nil {
			return false, err.Error()
		}
		return true, ""
	})

	if out := u.must("sleep", "cli", "--wait"); !strings.Contains(out, "Sleeping") {
		t.Fatalf("vck sleep --wait printed %q, want the cluster Sleeping", out)
	}
	u.fails([]string{"kubeconfig", "cli"}, "Sleeping", "vck wake")
	if out := u.must("wake", "cli", "--wait"); !strings.Contains(out, "Running") {
		t.Fatalf("vck wake --wait printed %q, want the cluster Running", out)
	}

	// Cost: the meter has seen the tree (no pods here, so zero, but the
	// report is shaped and priced).
	pf.Showback.Sample()
	var rep showback.Report
	if err := json.Unmarshal([]byte(u.must("cost", "acme", "-o", "json")), &rep); err != nil || rep.Tenant != "acme" || rep.Currency != "USD" {
		t.Fatalf("cost -o json: %v %+v", err, rep)
	}
	if out := u.must("cost", "acme"); !strings.Contains(out, "TOTAL") {
		t.Fatalf("cost:\n%s", out)
	}
	u.fails([]string{"cost", "acme", "--period", "soon"}, "period:", "fix period")

	u.must("vc", "delete", "cli")
	u.must("space", "delete", "cli-space")
	testenv.Eventually(t, 2*time.Minute, "cli gone", func(ctx context.Context) (bool, string) {
		_, _, err := u.run("vc", "describe", "cli")
		return err != nil && strings.Contains(err.Error(), "not found"), fmt.Sprint(err)
	})
}

// TestAPIKeyLogin: automation signs in with a key and sees its scope.
func TestAPIKeyLogin(t *testing.T) {
	_, key, err := pf.Keys.Issue(context.Background(), &auth.Identity{Name: "alice"}, "ci", "acme-web", tenancy.RoleView, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	u := newUser(t)
	u.must("login", "--server", pf.Server.URL, "--api-key", key)
	var who api.WhoAmI
	if err := json.Unmarshal([]byte(u.must("whoami", "-o", "json")), &who); err != nil || who.Scope == nil || who.Scope.Tenant != "acme-web" || who.Method != "apikey" {
		t.Fatalf("whoami with a key: %v %+v", err, who)
	}
	u.fails([]string{"space", "create", "ci-space", "--tenant", "acme-web"}, "needs the admin role")
}

// TestDeviceLogin: vck login with the OIDC device flow against the real
// issuer: the CLI shows a code, the user approves it at the issuer, the ID
// token comes back and works; a denied code is an error saying so.
func TestDeviceLogin(t *testing.T) {
	for _, deny := range []bool{false, true} {
		u := newUser(t)
		type result struct {
			errOut string
			err    error
		}
		done := make(chan result, 1)
		go func() {
			_, errOut, err := u.run("login", "--server", pf.Server.URL, "--oidc-issuer", pf.Issuer.URL(), "--client-id", platformtest.ClientID)
			done <- result{errOut, err}
		}()
		code := pendingCode(t)
		if err := pf.Issuer.Approve(code, "carol", deny); err != nil {
			t.Fatal(err)
		}
		r := <-done
		if deny {
			if r.err == nil || !strings.Contains(r.err.Error(), "denied") {
				t.Fatalf("denied device sign-in: %v", r.err)
			}
			t.Logf("denied device sign-in → %v", r.err)
			continue
		}
		if r.err != nil || !strings.Contains(r.errOut, "enter the code "+code) || !strings.Contains(r.errOut, "signed in") {
			t.Fatalf("device sign-in: %v\n%s", r.err, r.errOut)
		}
		var who api.WhoAmI
		if err := json.Unmarshal([]byte(u.must("whoami", "-o", "json")), &who); err != nil || who.Name != "carol" || who.Method != "oidc" {
			t.Fatalf("whoami after device sign-in: %v %+v", err, who)
		}
	}
}

// pendingCode waits for the one device code a vck login is waiting on.
func pendingCode(t *testing.T) string {
	t.Helper()
	var code string
	testenv.Eventually(t, time.Minute, "a pending device code", func(ctx context.Context) (bool, string) {
		codes := pf.Issuer.PendingUserCodes()
		if len(codes) == 1 {
			code = codes[0]
			return true, ""
		}
		return false, fmt.Sprint(codes)
	})
	return code
}

// TestDeviceLoginExpired: a device code that runs out unanswered ends the
// sign-in saying so, and keeps no credential.
func TestDeviceLoginExpired(t *testing.T) {
	u := newUser(t)
	done := make(chan error, 1)
	go func() {
		_, _, err := u.run("login", "--server", pf.Server.URL, "--oidc-issuer", pf.Issuer.URL(), "--client-id", platformtest.ClientID)
		done <- err
	}()
	code := pendingCode(t)
	if err := pf.Issuer.Expire(code); err != nil {
		t.Fatal(err)
	}
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "the code "+code+" expired before it was approved") || !strings.Contains(err.Error(), "run vck login again") {
		t.Fatalf("device sign-in with an expired code: %v", err)
	}
	t.Logf("an expired device code → %v", err)
	if _, err := os.Stat(filepath.Join(u.home, ".config", "vck", "config.json")); err == nil {
		t.Fatal("an expired sign-in kept a credential")
	}
}

// TestDeviceLoginWrongClient: a device sign-in at the right issuer for a
// client the platform does not accept fails saying to check --client-id
// (not to sign in again the same way), and keeps no credential.
func TestDeviceLoginWrongClient(t *testing.T) {
	u := newUser(t)
	done := make(chan error, 1)
	go func() {
		_, _, err := u.run("login", "--server", pf.Server.URL, "--oidc-issuer", pf.Issuer.URL(), "--client-id", "another-app")
		done <- err
	}()
	code := pendingCode(t)
	if err := pf.Issuer.Approve(code, "carol", false); err != nil {
		t.Fatal(err)
	}
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "audience") || !strings.Contains(err.Error(), "check --client-id") {
		t.Fatalf("device sign-in for another client: %v", err)
	}
	t.Logf("device sign-in for another client → %v", err)
	if _, err := os.Stat(filepath.Join(u.home, ".config", "vck", "config.json")); err == nil {
		t.Fatal("a refused sign-in kept a credential")
	}
}
