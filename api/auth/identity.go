package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// ErrUnauthenticated is wrapped by every error an Authenticator returns for
// a credential it refuses; the message after it says why (expired, wrong
// audience, revoked, …) and is safe to show to the caller.
var ErrUnauthenticated = errors.New("unauthenticated")

// Method says how an identity was established.
type Method string

// Methods.
const (
	MethodOIDC   Method = "oidc"
	MethodAPIKey Method = "apikey"
)

// Scope limits an API key: it acts only on Tenant and its descendants, with
// at most Role there (and never more than its creator holds at the time of
// the call).
type Scope struct {
	// KeyID identifies the key (not secret).
	KeyID string
	// Tenant is the root of the subtree the key may act on.
	Tenant string
	// Role is the highest role the key holds in that subtree.
	Role tenancy.Role
}

// Identity is a verified caller.
type Identity struct {
	// Name is the user name (for a key: its creator's).
	Name string
	// Groups the user belongs to (for a key: its creator's at creation).
	Groups []string
	// Method that verified the identity.
	Method Method
	// Scope is set for API keys, nil for signed-in users.
	Scope *Scope
}

// String names the identity for audit records: "alice" or
// "alice (apikey 0123abcd)".
func (id *Identity) String() string {
	if id == nil {
		return "anonymous"
	}
	if id.Scope != nil {
		return fmt.Sprintf("%s (apikey %s)", id.Name, id.Scope.KeyID)
	}
	return id.Name
}

// Authenticator verifies a bearer credential.
type Authenticator interface {
	// Authenticate returns the identity behind token or an error wrapping
	// ErrUnauthenticated.
	Authenticate(ctx context.Context, token string) (*Identity, error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(ctx context.Context, token string) (*Identity, error)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(ctx context.Context, token string) (*Identity, error) {
	return f(ctx, token)
}

// Chain sends API keys (tokens with the KeyPrefix) to Keys and everything
// else to OIDC; either may be nil, and a credential for a nil one is
// refused.
type Chain struct {
	OIDC Authenticator
	Keys Authenticator
}

// Authenticate implements Authenticator.
func (c Chain) Authenticate(ctx context.Context, token string) (*Identity, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, fmt.Errorf("%w: no credential: send Authorization: Bearer <OIDC ID token or API key>", ErrUnauthenticated)
	}
	if strings.HasPrefix(token, KeyPrefix) {
		if c.Keys == nil {
			return nil, fmt.Errorf("%w: API keys are not enabled on this server", ErrUnauthenticated)
		}
		return c.Keys.Authenticate(ctx, token)
	}
	if c.OIDC == nil {
		return nil, fmt.Errorf("%w: OIDC sign-in is not configured on this server", ErrUnauthenticated)
	}
	return c.OIDC.Authenticate(ctx, token)
}
