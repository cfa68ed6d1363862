// Package e2ekit holds what the end-to-end test packages share.
package e2ekit

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Create creates objs in order through c. A pod refused because its
// namespace's default ServiceAccount does not exist yet (the controller
// manager makes it moments after the namespace, as a tenant's kubectl
// apply of a namespace and a pod together also meets) is tried again for
// up to a minute; any other error ends it.
func Create(ctx context.Context, c client.Client, objs ...client.Object) error {
	for _, o := range objs {
		var last error
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			last = c.Create(ctx, o)
			switch {
			case last == nil:
				return true, nil
			case apierrors.IsForbidden(last) && strings.Contains(last.Error(), "error looking up service account"):
				return false, nil
			default:
				return false, last
			}
		})
		if err != nil {
			if last != nil {
				err = last
			}
			return fmt.Errorf("create %T %s/%s: %w", o, o.GetNamespace(), o.GetName(), err)
		}
	}
	return nil
}
