// Package memstore is an in-memory tenancy.Store, for tests, examples and
// small embedders that rebuild their tenants at start-up. Nothing is
// persisted. It keeps a bounded history of changes (Options.History) so
// watches can resume. For durable storage use sqlstore or kubestore.
package memstore
