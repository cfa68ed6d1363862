package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/vclusterkit/vclusterkit/internal/platformtest"
)

var pf *platformtest.Platform

// TestMain starts one platform (KWOK host, engine, OIDC issuer, API) for
// every test of the package.
func TestMain(m *testing.M) {
	ctx := context.Background()
	var err error
	pf, err = platformtest.Start(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: starting the platform:", err)
		os.Exit(1)
	}
	if err := pf.Fixture(ctx); err != nil {
		pf.Stop()
		fmt.Fprintln(os.Stderr, "FAIL: fixture:", err)
		os.Exit(1)
	}
	code := m.Run()
	pf.Stop()
	os.Exit(code)
}

// answer is one HTTP exchange.
type answer struct {
	code int
	body []byte
	hdr  http.Header
}

func (a answer) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("answer %d %s: %v", a.code, a.body, err)
	}
}

// apiErr is the error body.
type apiErr struct {
	Error struct {
		Code    int    `json:"code"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

func (a answer) err(t *testing.T) apiErr {
	t.Helper()
	var e apiErr
	a.json(t, &e)
	return e
}

// typed is a body call sends as is with its own Content-Type (none when
// empty).
type typed struct{ contentType, body string }

// call sends method path with token (raw Authorization value when it
// starts with "raw:") and body (a string is sent as is, a typed body with
// its Content-Type, anything else as JSON; all but typed say
// application/json).
func call(t *testing.T, method, path, token string, body any) answer {
	t.Helper()
	var rd io.Reader
	contentType := "application/json"
	switch b := body.(type) {
	case typed:
		rd, contentType = strings.NewReader(b.body), b.contentType
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, pf.Server.URL+"/api/v1"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil && contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if raw, ok := strings.CutPrefix(token, "raw:"); ok {
		req.Header.Set("Authorization", raw)
	} else if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{code: resp.StatusCode, body: b, hdr: resp.Header}
}

type corev1SecretList struct{ corev1.SecretList }

func resourceMust(s string) resource.Quantity { return resource.MustParse(s) }
