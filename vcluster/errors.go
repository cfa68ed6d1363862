package vcluster

import "errors"

// Sentinel errors. Provisioners wrap them so callers can use errors.Is.
var (
	// ErrUnknownProvisioner: no provisioner is registered under the name.
	ErrUnknownProvisioner = errors.New("unknown provisioner")
	// ErrDuplicateProvisioner: a name is registered twice.
	ErrDuplicateProvisioner = errors.New("provisioner already registered")
	// ErrUnsupportedVersion: the Kubernetes version is malformed or not supported.
	ErrUnsupportedVersion = errors.New("unsupported Kubernetes version")
	// ErrInvalidDSN: the backing store DSN is missing or malformed.
	ErrInvalidDSN = errors.New("invalid backing store DSN")
	// ErrConflict: another VirtualCluster already claims the same host
	// namespace and name.
	ErrConflict = errors.New("virtual cluster already claimed")
	// ErrNotFound: the provisioner has no control plane for the VirtualCluster.
	ErrNotFound = errors.New("virtual cluster not provisioned")
	// ErrSleeping: the control plane is paused; resume it first.
	ErrSleeping = errors.New("virtual cluster is sleeping")
	// ErrUnsupported: the provisioner cannot do what was asked for this
	// VirtualCluster (for example a snapshot of an external store).
	ErrUnsupported = errors.New("not supported by this provisioner")
)
