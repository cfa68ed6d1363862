// Package endpointslices is the built-in syncer for EndpointSlices of
// virtual Services that have no selector (endpoints the tenant manages
// itself). Host copies point at the host Service and are marked as managed
// by the syncer so the host's EndpointSlice controller ignores them. Slices
// of Services with a selector are not synced: the host derives those from
// the synced pods and the scoped host selector.
package endpointslices
