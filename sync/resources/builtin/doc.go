// Package builtin is the registration table of the built-in syncers: one
// Options value says which kinds a virtual cluster syncs and how, and
// Syncers returns them ready for syncer.Options.Syncers. HostOptions lists
// the host kinds the chosen syncers read unfiltered, for
// syncer.HostOptions.Unfiltered.
//
// It is for platforms that want the standard set; a platform that wants
// a different mix picks the packages under sync/resources directly.
package builtin
