package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/vclusterkit/vclusterkit/api/auth"
	"github.com/vclusterkit/vclusterkit/tenancy"
)

func (s *Server) keys() (*auth.KeyStore, error) {
	if s.opts.Keys == nil {
		return nil, notFound("API keys are not enabled on this server")
	}
	return s.opts.Keys, nil
}

// listKeys lists the keys the caller created (a key sees the keys of its
// creator).
func (s *Server) listKeys(w http.ResponseWriter, r *http.Request, c *call) error {
	ks, err := s.keys()
	if err != nil {
		return err
	}
	all, err := ks.List(r.Context())
	if err != nil {
		return err
	}
	out := List[*auth.Key]{Items: []*auth.Key{}}
	for _, k := range all {
		if k.Creator == c.id.Name {
			out.Items = append(out.Items, k)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// createKey issues a key on a tenant subtree with a role the caller holds
// there. Only signed-in users issue keys: a key cannot mint another key
// (which would outlive it).
func (s *Server) createKey(w http.ResponseWriter, r *http.Request, c *call) error {
	c.action = "apikey.create"
	ks, err := s.keys()
	if err != nil {
		return err
	}
	var in CreateKey
	if err := decode(r, &in); err != nil {
		return err
	}
	c.tenant, c.target = in.Tenant, in.Name
	if c.id.Scope != nil {
		return forbidden("an API key cannot issue API keys: sign in (OIDC) to issue one")
	}
	if strings.TrimSpace(in.Name) == "" || len(in.Name) > 63 {
		return invalid("name", "must be 1 to 63 characters")
	}
	if e := dnsLabel("tenant", in.Tenant); e != nil {
		return e
	}
	if _, ok := rank[in.Role]; !ok {
		return invalid("role", "must be admin, edit or view, not %q", in.Role)
	}
	d, err := time.ParseDuration(in.ExpiresIn)
	if err != nil || d <= 0 || d > auth.MaxKeyLifetime {
		return invalid("expiresIn", "must be a duration from 1s to %s (\"720h\"), not %q", auth.MaxKeyLifetime, in.ExpiresIn)
	}
	if err := s.require(r.Context(), c, in.Tenant, in.Role, "issuing a key with role "+string(in.Role)); err != nil {
		return err
	}
	k, key, err := ks.Issue(r.Context(), c.id, in.Name, in.Tenant, in.Role, d)
	if err != nil {
		return err
	}
	c.target = in.Name + " (" + k.ID + ")"
	writeJSON(w, http.StatusCreated, CreatedKey{Key: key, ID: k.ID, Name: k.Name, Tenant: k.Tenant, Role: k.Role, ExpiresAt: k.ExpiresAt})
	return nil
}

// deleteKey revokes a key: its creator or an admin of its tenant may.
func (s *Server) deleteKey(w http.ResponseWriter, r *http.Request, c *call) error {
	c.action = "apikey.revoke"
	ks, err := s.keys()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	c.target = id
	k, err := ks.Get(r.Context(), id)
	if errors.Is(err, tenancy.ErrNotFound) {
		return notFound("API key %s not found (revoked or never issued)", id)
	}
	if err != nil {
		return err
	}
	c.tenant = k.Tenant
	if k.Creator != c.id.Name {
		if err := s.require(r.Context(), c, k.Tenant, tenancy.RoleAdmin, "revoking another user's key"); err != nil {
			return err
		}
	}
	if err := ks.Revoke(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
