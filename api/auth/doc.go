// Package auth says who is calling the platform API (package api): OIDC ID
// tokens verified with github.com/coreos/go-oidc (issuer, audience, expiry,
// signature, keys fetched from the issuer's JWKS and refetched when it
// rotates them), and API keys for automation, stored hashed in Kubernetes
// Secrets, scoped to a tenant subtree with a role cap, expiring and
// revocable.
//
// It is not an authorization layer: an Identity carries a user, groups and,
// for a key, its Scope; package api decides what the identity may do from
// the tenant tree's effective members. Identity headers set by a client are
// never read: the only input is the bearer credential.
package auth
