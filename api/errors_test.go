package api

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/vclusterkit/vclusterkit/api/auth"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

// TestFromError maps each kind of error to its answer; what is unexpected
// never leaks its text.
func TestFromError(t *testing.T) {
	gr := schema.GroupResource{Group: "vcluster.vclusterkit.io", Resource: "virtualclusters"}
	for _, tc := range []struct {
		err    error
		code   int
		reason string
	}{
		{fmt.Errorf("%w: expired", auth.ErrUnauthenticated), http.StatusUnauthorized, "Unauthorized"},
		{apierrors.NewNotFound(gr, "x"), http.StatusNotFound, "NotFound"},
		{fmt.Errorf("%w: tenant x", tenancy.ErrNotFound), http.StatusNotFound, "NotFound"},
		{fmt.Errorf("reading: %w", vcluster.ErrNotFound), http.StatusConflict, "NotReady"},
		{apierrors.NewAlreadyExists(gr, "x"), http.StatusConflict, "Conflict"},
		{apierrors.NewConflict(gr, "x", errors.New("modified")), http.StatusConflict, "Conflict"},
		{apierrors.NewForbidden(gr, "x", errors.New("quota exceeded")), http.StatusForbidden, "Forbidden"},
		{invalid("name", "bad"), http.StatusBadRequest, "Invalid"},
		{errors.New("etcd password is hunter2"), http.StatusInternalServerError, "Internal"},
	} {
		e := fromError(tc.err)
		if e.Code != tc.code || e.Reason != tc.reason {
			t.Errorf("%v → %d %s, want %d %s", tc.err, e.Code, e.Reason, tc.code, tc.reason)
		}
		if tc.code == 500 && e.Message != "internal error (logged on the server)" {
			t.Errorf("internal error leaked: %q", e.Message)
		}
	}
}
