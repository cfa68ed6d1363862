package auth_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/vclusterkit/vclusterkit/api/auth"
)

// Chain routes API keys (vck_…) to the key store and everything else to
// the OIDC verifier; here both are stand-ins.
func ExampleChain() {
	oidc := auth.AuthenticatorFunc(func(ctx context.Context, token string) (*auth.Identity, error) {
		if token == "id-token-of-alice" {
			return &auth.Identity{Name: "alice", Method: auth.MethodOIDC}, nil
		}
		return nil, fmt.Errorf("%w: ID token refused", auth.ErrUnauthenticated)
	})
	c := auth.Chain{OIDC: oidc}
	id, err := c.Authenticate(context.Background(), "id-token-of-alice")
	fmt.Println(id, err)
	_, err = c.Authenticate(context.Background(), "vck_0123456789abcdef_secret")
	fmt.Println(errors.Is(err, auth.ErrUnauthenticated), err)
	// Output:
	// alice <nil>
	// true unauthenticated: API keys are not enabled on this server
}
