package fleet

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

// ManagementOptions configure the management side's controllers.
type ManagementOptions struct {
	// ProbeInterval between probes of Credential clusters; zero means 10 s.
	ProbeInterval time.Duration
	// HeartbeatGrace after which an Agent cluster without a heartbeat is
	// Unreachable; zero means 30 s.
	HeartbeatGrace time.Duration
	// DefaultRule narrows the clusters the default placement may choose
	// (objects naming neither a claim nor a cluster); nil means all.
	DefaultRule *metav1.LabelSelector
}

// SetupManagement registers the management side's controllers with mgr
// (whose client reaches the management API, and whose scheme knows the
// tenancy, vcluster and fleet types: AddToSchemes): cluster health and
// capacity (ClusterReconciler), claim binding (ClaimReconciler) and
// placement of Spaces and VirtualClusters (PlacementReconciler).
func SetupManagement(mgr ctrl.Manager, opts ManagementOptions) error {
	for _, c := range []interface{ SetupWithManager(ctrl.Manager) error }{
		&ClusterReconciler{Client: mgr.GetClient(), ProbeInterval: opts.ProbeInterval, HeartbeatGrace: opts.HeartbeatGrace},
		&ClaimReconciler{Client: mgr.GetClient()},
		&PlacementReconciler{Client: mgr.GetClient(), DefaultRule: opts.DefaultRule},
	} {
		if err := c.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("fleet: %w", err)
		}
	}
	return nil
}

// AddToSchemes adds the types the management side and the Members use:
// tenancy, vcluster and fleet.
func AddToSchemes(s *runtime.Scheme) error {
	for _, add := range []func(*runtime.Scheme) error{tenancy.AddToScheme, vcluster.AddToScheme, AddToScheme} {
		if err := add(s); err != nil {
			return err
		}
	}
	return nil
}

// InstallManagementCRDs installs the tenancy, vcluster and fleet CRDs into
// the management API and waits until they are established.
func InstallManagementCRDs(ctx context.Context, c client.Client) error {
	if err := tenancy.InstallCRDs(ctx, c); err != nil {
		return err
	}
	if err := vcluster.InstallCRDs(ctx, c); err != nil {
		return err
	}
	return InstallCRDs(ctx, c)
}
