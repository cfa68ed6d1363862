// Package events is the built-in host → virtual syncer for Events: what
// the host says about a synced pod, service or persistent volume claim
// (scheduling, image pulls, probes, provisioning) shows up as an event
// about the virtual object, with host names in the message replaced by the
// virtual ones. Events about anything else on the host never reach the
// tenant.
//
// The host Event cache must not be filtered by the managed label: list
// &corev1.Event{} in syncer.HostOptions.Unfiltered.
package events
