package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vclusterkit/vclusterkit/api"
)

// apiClient calls the platform API with one bearer credential.
type apiClient struct {
	server string
	token  string
	http   *http.Client
}

// apiError is an error answer of the API, with a hint for the user.
type apiError struct {
	api  api.Error
	hint string
}

func (e *apiError) Error() string {
	msg := e.api.Message
	if e.api.Field != "" {
		msg = e.api.Field + ": " + msg
	}
	if e.hint != "" {
		msg += "\n  hint: " + e.hint
	}
	return msg
}

func (c *apiClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.server, "/")+api.Prefix+path, body)
	if err != nil {
		return fmt.Errorf("server address %q: %w\n  hint: vck login --server https://HOST", c.server, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the platform API at %s: %w\n  hint: is the server running? check the address with vck login --server", c.server, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		var eb struct{ Error *api.Error }
		if json.Unmarshal(b, &eb) != nil || eb.Error == nil {
			return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
		}
		e := &apiError{api: *eb.Error}
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			e.hint = "sign in again: vck login --server " + c.server + " --api-key <key> (or --token <OIDC ID token>)"
		case http.StatusForbidden:
			e.hint = "ask an admin of the tenant for the role this needs (vck tree shows your roles)"
		case http.StatusNotFound:
			e.hint = "check the name: vck vc list, vck space list and vck tree show what you can see"
		case http.StatusConflict:
			if e.api.Reason == "NotReady" {
				e.hint = "wait until it is Running (vck vc describe NAME), or wake it: vck wake NAME"
			}
		case http.StatusBadRequest:
			if e.api.Field != "" {
				e.hint = "fix " + e.api.Field + " and try again"
			}
		}
		return e
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = b
		return nil
	}
	return json.Unmarshal(b, out)
}

// listAll follows continue tokens.
func listAll[T any](ctx context.Context, c *apiClient, path string, q url.Values) ([]T, error) {
	var all []T
	if q == nil {
		q = url.Values{}
	}
	for {
		var page api.List[T]
		if err := c.do(ctx, "GET", path+"?"+q.Encode(), nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.Continue == "" {
			return all, nil
		}
		q.Set("continue", page.Continue)
	}
}

func newHTTPClient() *http.Client { return &http.Client{Timeout: 2 * time.Minute} }

var errNotLoggedIn = errors.New("not signed in\n  hint: vck login --server https://HOST --api-key <key> (or --token <OIDC ID token>)")
