package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
)

// OIDCOptions configure NewOIDC.
type OIDCOptions struct {
	// IssuerURL is the issuer; its discovery document is fetched from
	// IssuerURL + "/.well-known/openid-configuration". Required.
	IssuerURL string
	// ClientID is the audience ID tokens must be issued for. Required.
	ClientID string
	// UsernameClaim holds the user name; empty means "sub". A token
	// without it is refused.
	UsernameClaim string
	// GroupsClaim holds the groups (a list of strings); empty means
	// "groups". It may be absent.
	GroupsClaim string
	// SupportedSigningAlgs restricts the signature algorithms; empty means
	// RS256 and ES256. "none" is never accepted.
	SupportedSigningAlgs []string
}

// OIDC verifies ID tokens with go-oidc against one issuer. It is safe for
// concurrent use; the issuer's keys are cached and refetched when a token
// names a key the cache does not hold (key rotation).
type OIDC struct {
	verifier *oidc.IDTokenVerifier
	opts     OIDCOptions
}

var _ Authenticator = (*OIDC)(nil)

// NewOIDC fetches the issuer's discovery document under ctx and returns a
// verifier. ctx also bounds later key fetches: pass a context that lives as
// long as the OIDC value (not a request's).
func NewOIDC(ctx context.Context, opts OIDCOptions) (*OIDC, error) {
	if opts.IssuerURL == "" {
		return nil, errors.New("auth.OIDCOptions.IssuerURL is required")
	}
	if opts.ClientID == "" {
		return nil, errors.New("auth.OIDCOptions.ClientID is required")
	}
	if opts.UsernameClaim == "" {
		opts.UsernameClaim = "sub"
	}
	if opts.GroupsClaim == "" {
		opts.GroupsClaim = "groups"
	}
	if len(opts.SupportedSigningAlgs) == 0 {
		opts.SupportedSigningAlgs = []string{oidc.RS256, oidc.ES256}
	}
	for _, a := range opts.SupportedSigningAlgs {
		if strings.EqualFold(a, "none") {
			return nil, errors.New("auth.OIDCOptions.SupportedSigningAlgs: none is not a signature algorithm")
		}
	}
	p, err := oidc.NewProvider(ctx, opts.IssuerURL)
	if err != nil {
		return nil, fmt.Errorf("OIDC issuer %s: %w", opts.IssuerURL, err)
	}
	v := p.Verifier(&oidc.Config{ClientID: opts.ClientID, SupportedSigningAlgs: opts.SupportedSigningAlgs})
	return &OIDC{verifier: v, opts: opts}, nil
}

// Authenticate verifies token (signature, issuer, audience, expiry) and
// reads the user name and groups from its claims.
func (o *OIDC) Authenticate(ctx context.Context, token string) (*Identity, error) {
	tok, err := o.verifier.Verify(ctx, token)
	if err != nil {
		var exp *oidc.TokenExpiredError
		if errors.As(err, &exp) {
			return nil, fmt.Errorf("%w: ID token expired at %s: sign in again", ErrUnauthenticated, exp.Expiry.UTC().Format("2006-01-02T15:04:05Z"))
		}
		return nil, fmt.Errorf("%w: ID token refused: %v", ErrUnauthenticated, err)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return nil, fmt.Errorf("%w: ID token claims: %v", ErrUnauthenticated, err)
	}
	name, _ := claims[o.opts.UsernameClaim].(string)
	if name == "" {
		return nil, fmt.Errorf("%w: ID token has no %q claim to name the user", ErrUnauthenticated, o.opts.UsernameClaim)
	}
	id := &Identity{Name: name, Method: MethodOIDC}
	switch g := claims[o.opts.GroupsClaim].(type) {
	case nil:
	case []any:
		for _, v := range g {
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("%w: ID token claim %q must be a list of strings", ErrUnauthenticated, o.opts.GroupsClaim)
			}
			id.Groups = append(id.Groups, s)
		}
	default:
		return nil, fmt.Errorf("%w: ID token claim %q must be a list of strings", ErrUnauthenticated, o.opts.GroupsClaim)
	}
	return id, nil
}
