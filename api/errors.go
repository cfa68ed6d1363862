package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/vclusterkit/vclusterkit/api/auth"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

// Error is the body of every error answer: {"error": {...}}.
type Error struct {
	// Code is the HTTP status.
	Code int `json:"code"`
	// Reason is a machine-readable word: Unauthorized, Forbidden,
	// NotFound, MethodNotAllowed, Invalid, Conflict, NotReady, TooLarge,
	// UnsupportedMediaType, Internal.
	Reason string `json:"reason"`
	// Message says what went wrong and, where it can, what to do.
	Message string `json:"message"`
	// Field is the JSON path of the input at fault, when one is.
	Field string `json:"field,omitempty"`
}

func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

type errorBody struct {
	Error *Error `json:"error"`
}

func errf(code int, reason, fld, format string, args ...any) *Error {
	return &Error{Code: code, Reason: reason, Field: fld, Message: fmt.Sprintf(format, args...)}
}

func invalid(fld, format string, args ...any) *Error {
	return errf(http.StatusBadRequest, "Invalid", fld, format, args...)
}

func forbidden(format string, args ...any) *Error {
	return errf(http.StatusForbidden, "Forbidden", "", format, args...)
}

func notFound(format string, args ...any) *Error {
	return errf(http.StatusNotFound, "NotFound", "", format, args...)
}

// fromFieldErrors turns the first validation error into an Error naming
// its field (rebased from the object's paths to the request's).
func fromFieldErrors(errs field.ErrorList, rename map[string]string) *Error {
	if len(errs) == 0 {
		return nil
	}
	fld := errs[0].Field
	if r, ok := rename[fld]; ok {
		fld = r
	}
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		msgs = append(msgs, e.ErrorBody())
	}
	return invalid(fld, "%s", strings.Join(msgs, "; "))
}

// fromError maps errors of the host API and the stores to answers; what
// is unexpected is an Internal error whose detail is logged, not sent.
func fromError(err error) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, auth.ErrUnauthenticated):
		return errf(http.StatusUnauthorized, "Unauthorized", "", "%s", err.Error())
	case errors.Is(err, vcluster.ErrNotFound):
		// The control plane or its admin kubeconfig is not there (yet).
		return errf(http.StatusConflict, "NotReady", "", "%s: the virtual cluster is not ready; try again once it is Running", err.Error())
	case apierrors.IsNotFound(err) || errors.Is(err, tenancy.ErrNotFound):
		return notFound("%s", err.Error())
	case apierrors.IsAlreadyExists(err):
		return errf(http.StatusConflict, "Conflict", "name", "%s", err.Error())
	case apierrors.IsConflict(err):
		return errf(http.StatusConflict, "Conflict", "", "%s: retry", err.Error())
	case apierrors.IsInvalid(err):
		var se *apierrors.StatusError
		if errors.As(err, &se) && se.ErrStatus.Details != nil && len(se.ErrStatus.Details.Causes) > 0 {
			return invalid(se.ErrStatus.Details.Causes[0].Field, "%s", err.Error())
		}
		return invalid("", "%s", err.Error())
	case apierrors.IsForbidden(err):
		// The host refused (an admission webhook: quota, tree rules).
		return errf(http.StatusForbidden, "Forbidden", "", "%s", err.Error())
	case apierrors.IsBadRequest(err):
		return invalid("", "%s", err.Error())
	}
	return &Error{Code: http.StatusInternalServerError, Reason: "Internal", Message: "internal error (logged on the server)"}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, e *Error) {
	if e.Code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="vclusterkit"`)
	}
	writeJSON(w, e.Code, errorBody{Error: e})
}
