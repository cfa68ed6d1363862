// Package sqlstore is a tenancy.Store on database/sql: SQLite by default
// (modernc.org/sqlite, pure Go, no cgo) and PostgreSQL (pgx) for scale or
// for several engine replicas sharing one database.
//
// Objects are stored as the same JSON the Kubernetes API would hold, so
// moving between stores needs no conversion. Open applies versioned schema
// migrations. Every write is a transaction that serializes with other
// writers, validates with tenancy.Validator against the state it will
// change, writes the object and appends to a change log; watches read that
// log, so they resume from any version the store ever returned.
//
// It is not a general SQL mapping of the objects: query them through the
// Store, not the tables. The change log is kept until Compact drops the
// part no watcher needs any more.
package sqlstore
