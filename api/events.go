package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/vcluster"
)

// KeepAlive is how often /events writes a comment so proxies keep the
// stream open.
const KeepAlive = 15 * time.Second

// events streams server-sent events: one "virtualcluster" event per
// change of a virtual cluster the caller can see (ADDED for each existing
// one first, then MODIFIED and DELETED), as JSON Event data. The tenant
// tree is read again when a virtual cluster of an unknown tenant appears,
// so a membership granted while streaming shows up.
func (s *Server) events(w http.ResponseWriter, r *http.Request, c *call) error {
	fl, ok := w.(http.Flusher)
	if !ok {
		return fmt.Errorf("streaming unsupported by the response writer %T", w)
	}
	ctx := r.Context()
	if _, err := s.loadTree(ctx, c); err != nil {
		return err
	}
	wt, err := s.opts.Client.Watch(ctx, &vcluster.VirtualClusterList{}, client.InNamespace(s.opts.VirtualClusterNamespace))
	if err != nil {
		return err
	}
	defer wt.Stop()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprint(w, ": vclusterkit events\n\n")
	fl.Flush()
	tick := time.NewTicker(KeepAlive)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			_, _ = fmt.Fprint(w, ": keep-alive\n\n")
			fl.Flush()
		case ev, ok := <-wt.ResultChan():
			if !ok {
				// The host ended the watch; the client reconnects
				// (EventSource does so by itself).
				return nil
			}
			vc, isVC := ev.Object.(*vcluster.VirtualCluster)
			if !isVC || ev.Type == watch.Bookmark || ev.Type == watch.Error {
				continue
			}
			if !c.tree.Has(vc.Spec.Tenant) {
				c.tree = nil
				if _, err := s.loadTree(ctx, c); err != nil {
					return nil
				}
			}
			if RoleOf(c.tree, vc.Spec.Tenant, c.id) == "" {
				continue
			}
			v := vcView(vc)
			b, _ := json.Marshal(Event{Type: string(ev.Type), VirtualCluster: &v})
			_, _ = fmt.Fprintf(w, "event: virtualcluster\ndata: %s\n\n", b)
			fl.Flush()
		}
	}
}
