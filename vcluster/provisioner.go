package vcluster

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// Provisioner runs virtual control planes. It is the small core every
// provisioner implements; optional capabilities (Sleeper, Upgrader,
// Snapshotter, HealthReporter, UserKubeconfigIssuer) are separate
// interfaces a caller detects by type assertion, so a provisioner written
// against this version keeps compiling when capabilities are added.
//
// Implementations must be safe for concurrent use for different
// VirtualClusters; calls for the same VirtualCluster are serialised by the
// caller (one reconcile at a time per object). A control plane is identified
// by the VirtualCluster's host namespace and name.
// +kubebuilder:object:generate=false
type Provisioner interface {
	// Provision creates the control plane or brings it to the spec. It is
	// idempotent: calling it again for a ready control plane changes nothing
	// and reports Ready. A provisioner that does not wait returns
	// Ready=false and a RequeueAfter; the caller calls again. On an error
	// nothing half-created may be left behind for a control plane that did
	// not exist before the call.
	Provision(ctx context.Context, req Request) (Result, error)
	// Deprovision removes the control plane and everything it owns
	// (processes, files, host objects, releases). It is idempotent: a
	// control plane that does not exist is not an error.
	Deprovision(ctx context.Context, vc *VirtualCluster) error
	// Kubeconfig returns an admin kubeconfig for the virtual API server, or
	// an error wrapping ErrNotFound when there is no control plane.
	Kubeconfig(ctx context.Context, vc *VirtualCluster) ([]byte, error)
}

// Request is what Provision works on.
// +kubebuilder:object:generate=false
type Request struct {
	// Cluster is the VirtualCluster; provisioners do not modify it.
	Cluster *VirtualCluster
	// BackingStoreDSN is the resolved DSN of Spec.BackingStore (see
	// ResolveDSN); empty for sqlite and for an etcd the provisioner runs.
	BackingStoreDSN string
	// Progress, when set, receives a line per step the provisioner takes.
	Progress func(Progress)
}

// Report sends p to the request's Progress callback, if any.
func (r Request) Report(step, message string) {
	if r.Progress != nil {
		r.Progress(Progress{Step: step, Message: message, Time: time.Now()})
	}
}

// Progress is one step of a provisioning run.
// +kubebuilder:object:generate=false
type Progress struct {
	Step    string
	Message string
	Time    time.Time
}

// Result is the outcome of a Provision call.
// +kubebuilder:object:generate=false
type Result struct {
	// Ready is true when the API server answers.
	Ready bool
	// Sleeping is true when the control plane exists but is paused; Provision
	// does not wake it (use Sleeper.Resume).
	Sleeping bool
	// Endpoint is the URL of the virtual API server, when known.
	Endpoint string
	// KubernetesVersion running or being rolled out.
	KubernetesVersion string
	// Message is a human-readable summary of the state.
	Message string
	// RequeueAfter asks the caller to call Provision again when not Ready.
	RequeueAfter time.Duration
}

// Sleeper is implemented by provisioners that can pause a control plane
// while keeping every object, and resume it.
// +kubebuilder:object:generate=false
type Sleeper interface {
	// Pause stops the control plane; idempotent.
	Pause(ctx context.Context, vc *VirtualCluster) error
	// Resume starts a paused control plane and waits until it is ready;
	// idempotent.
	Resume(ctx context.Context, vc *VirtualCluster) error
}

// Upgrader is implemented by provisioners that can move a running control
// plane to a new spec (in particular a new Kubernetes version) in place.
// +kubebuilder:object:generate=false
type Upgrader interface {
	Upgrade(ctx context.Context, req Request) (Result, error)
}

// Snapshotter is implemented by provisioners that can export the virtual
// cluster's objects and import them into a (new, empty) control plane of the
// same provisioner.
// +kubebuilder:object:generate=false
type Snapshotter interface {
	Snapshot(ctx context.Context, vc *VirtualCluster, w io.Writer) error
	Restore(ctx context.Context, vc *VirtualCluster, r io.Reader) error
}

// HealthReporter is implemented by provisioners that can tell whether the
// components of a control plane still run. Lifecycle controllers poll it and
// turn it into conditions with ApplyHealth.
// +kubebuilder:object:generate=false
type HealthReporter interface {
	Health(ctx context.Context, vc *VirtualCluster) (Health, error)
}

// ComponentExit is a control-plane process that exited without being
// stopped.
// +kubebuilder:object:generate=false
type ComponentExit struct {
	// HostNamespace and Name identify the virtual cluster
	// (VirtualCluster.EffectiveHostNamespace and its name).
	HostNamespace, Name string
	// Component is the process that exited ("kube-apiserver", …).
	Component string
	// Err is why it exited.
	Err error
}

// ExitReporter is implemented by provisioners that run control-plane
// processes themselves and learn at once when one exits unexpectedly
// (vcluster/local). A controller that finds it by type assertion subscribes,
// so the VirtualCluster is reconciled (and the death shown) at once rather
// than at its next Health poll, without anyone wiring a callback.
// +kubebuilder:object:generate=false
type ExitReporter interface {
	// ReportExits calls report for every exit until stop is called. report
	// may be called from any goroutine and must not block.
	ReportExits(report func(ComponentExit)) (stop func())
}

// Shutdowner is implemented by provisioners whose control planes run inside
// the embedding process (vcluster/local): Shutdown stops them all, keeping
// their state, so the next run of the program starts them again. The engine
// calls it when it stops.
// +kubebuilder:object:generate=false
type Shutdowner interface {
	Shutdown(ctx context.Context)
}

// User is an identity inside a virtual cluster.
// +kubebuilder:object:generate=false
type User struct {
	// Name is the user name (the client certificate's common name).
	Name string
	// Groups the user belongs to (the certificate's organizations).
	Groups []string
}

// UserKubeconfigIssuer is implemented by provisioners that can mint a
// kubeconfig for a named user (a client certificate signed by the virtual
// cluster's CA). What the user may do is decided by RBAC inside the virtual
// cluster; see package vcluster/kubeconfig.
// +kubebuilder:object:generate=false
type UserKubeconfigIssuer interface {
	UserKubeconfig(ctx context.Context, vc *VirtualCluster, user User) ([]byte, error)
}

// Health reports the components of one control plane.
// +kubebuilder:object:generate=false
type Health struct {
	// Ready is true when every component runs and the API server answers.
	Ready bool
	// Sleeping is true when the control plane is paused on purpose.
	Sleeping bool
	// Components in start order.
	Components []ComponentHealth
}

// ComponentHealth is the state of one component (process, pod, …).
// +kubebuilder:object:generate=false
type ComponentHealth struct {
	Name    string
	Running bool
	// Message says why a component is not running (exit status, log tail).
	Message string
}

// Summary is a one-line description of h for a condition message.
func (h Health) Summary() string {
	if h.Sleeping {
		return "sleeping"
	}
	var down []string
	for _, c := range h.Components {
		if !c.Running {
			down = append(down, fmt.Sprintf("%s: %s", c.Name, c.Message))
		}
	}
	if len(down) > 0 {
		return "not running: " + strings.Join(down, "; ")
	}
	if h.Ready {
		return "all components running"
	}
	return "components running, API server not answering yet"
}

// Funcs adapts plain functions to a Provisioner, so a custom provisioner is
// three functions. A nil function makes its method return an error. Funcs
// implements only the core interface.
// +kubebuilder:object:generate=false
type Funcs struct {
	ProvisionFunc   func(ctx context.Context, req Request) (Result, error)
	DeprovisionFunc func(ctx context.Context, vc *VirtualCluster) error
	KubeconfigFunc  func(ctx context.Context, vc *VirtualCluster) ([]byte, error)
}

var _ Provisioner = Funcs{}

// Provision calls ProvisionFunc.
func (f Funcs) Provision(ctx context.Context, req Request) (Result, error) {
	if f.ProvisionFunc == nil {
		return Result{}, fmt.Errorf("vcluster.Funcs: ProvisionFunc is nil")
	}
	return f.ProvisionFunc(ctx, req)
}

// Deprovision calls DeprovisionFunc.
func (f Funcs) Deprovision(ctx context.Context, vc *VirtualCluster) error {
	if f.DeprovisionFunc == nil {
		return fmt.Errorf("vcluster.Funcs: DeprovisionFunc is nil")
	}
	return f.DeprovisionFunc(ctx, vc)
}

// Kubeconfig calls KubeconfigFunc.
func (f Funcs) Kubeconfig(ctx context.Context, vc *VirtualCluster) ([]byte, error) {
	if f.KubeconfigFunc == nil {
		return nil, fmt.Errorf("vcluster.Funcs: KubeconfigFunc is nil")
	}
	return f.KubeconfigFunc(ctx, vc)
}
