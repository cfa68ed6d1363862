// Package admission serves a quota.Ledger as a validating admission webhook for host
// namespaces, and keeps the ledger in step with the objects that exist.
//
//   - Webhook decides AdmissionReviews for pod creates and for creates and updates of
//     PersistentVolumeClaims and Services: it charges each new object (a pod with its
//     LimitRange defaults applied, a claim its requests.storage and counts, a Service its
//     counts, load balancer and node ports) to its namespace's ledger node under the
//     object's UID, charges an update only for what it adds (a Service turned into a
//     LoadBalancer, an expanded claim), and refuses it when a limit anywhere up the
//     tenant tree would be exceeded. It is fail closed: every error is a denial, and
//     Install writes failurePolicy: Fail.
//   - GenerateCerts makes the webhook's own CA and serving certificate in code; Serve
//     runs it over TLS; Install creates or updates the one ValidatingWebhookConfiguration
//     (by URL or Service) with the CA bundle and the Rules.
//   - ObjectTracker commits reservations when pods, claims and Services appear, follows
//     updates, frees charges exactly once when they end or are deleted, and resyncs the
//     ledger from a full list. Tracker is the same for pods alone.
//
// It is not a general admission framework: other kinds are not charged here; the syncer
// charges what it creates through quota.Ledger.Admit in process.
package admission
