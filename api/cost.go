package api

import (
	"net/http"
	"time"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// cost reports a tenant subtree's priced usage for one period (?period=
// a date, 2006-01-02, or an RFC 3339 time inside it; default now).
func (s *Server) cost(w http.ResponseWriter, r *http.Request, c *call) error {
	if s.opts.Showback == nil {
		return notFound("cost showback is not enabled on this server")
	}
	tenant := r.PathValue("tenant")
	if err := s.require(r.Context(), c, tenant, tenancy.RoleView, "reading cost"); err != nil {
		return err
	}
	at := time.Now()
	if p := r.URL.Query().Get("period"); p != "" {
		t, err := time.Parse("2006-01-02", p)
		if err != nil {
			if t, err = time.Parse(time.RFC3339, p); err != nil {
				return invalid("period", "must be a date (2006-01-02) or an RFC 3339 time, not %q", p)
			}
		}
		at = t
	}
	writeJSON(w, http.StatusOK, s.opts.Showback.Report(tenant, at))
	return nil
}
