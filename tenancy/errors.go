package tenancy

import (
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Kinds, as named in errors and watch events.
const (
	KindTenant = "Tenant"
	KindSpace  = "Space"
)

// Sentinel errors every Store returns alike. Test with errors.Is; the
// errors returned wrap them with the kind and name of the object.
var (
	// ErrNotFound: the object does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: an object of that kind and name exists.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict: the write carried a stale resourceVersion; read the
	// object again and retry.
	ErrConflict = errors.New("conflict: the object has been modified")
	// ErrInvalid: the object, or the tree it would produce, is invalid.
	// The error is an *InvalidError; errors.As gives its field.ErrorList.
	ErrInvalid = errors.New("invalid")
	// ErrHasDependents: a tenant still has child tenants or spaces and the
	// delete did not ask for a cascade. The message lists them.
	ErrHasDependents = errors.New("has dependents")
	// ErrExpired: a watch asked to resume from a version the store no
	// longer keeps changes for; list again and watch from the list's
	// version.
	ErrExpired = errors.New("resource version expired")
)

// InvalidError reports every field that is wrong with an object. It
// matches ErrInvalid with errors.Is.
type InvalidError struct {
	Kind string
	Name string
	// Errs names each offending field and why.
	Errs field.ErrorList
}

// NewInvalidError returns an *InvalidError for the object, or nil when errs
// is empty.
func NewInvalidError(kind, name string, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return &InvalidError{Kind: kind, Name: name, Errs: errs}
}

func (e *InvalidError) Error() string {
	msgs := make([]string, len(e.Errs))
	for i, fe := range e.Errs {
		msgs[i] = fe.Error()
	}
	if e.Name == "" {
		return fmt.Sprintf("%s is invalid: %s", e.Kind, strings.Join(msgs, "; "))
	}
	return fmt.Sprintf("%s %q is invalid: %s", e.Kind, e.Name, strings.Join(msgs, "; "))
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// NotFoundError returns an error wrapping ErrNotFound for a store to return.
func NotFoundError(kind, name string) error {
	return fmt.Errorf("%s %q: %w", kind, name, ErrNotFound)
}

// AlreadyExistsError returns an error wrapping ErrAlreadyExists.
func AlreadyExistsError(kind, name string) error {
	return fmt.Errorf("%s %q: %w", kind, name, ErrAlreadyExists)
}

// ConflictError returns an error wrapping ErrConflict.
func ConflictError(kind, name, sent, current string) error {
	if current == "" {
		return fmt.Errorf("%s %q: resourceVersion %q is stale: %w", kind, name, sent, ErrConflict)
	}
	return fmt.Errorf("%s %q: resourceVersion %q is stale, current is %q: %w", kind, name, sent, current, ErrConflict)
}
