// Package admission serves a quota.Ledger as a validating admission webhook for host
// namespaces, and keeps the ledger in step with the objects that exist.
//
//   - Webhook decides AdmissionReviews for pod creates and in-place resizes, creates and
//     updates of PersistentVolumeClaims and Services, and creates of every resource an
//     object-count limit counts (Webhook.Counted): it charges each new object (a pod
//     with its LimitRange defaults applied, a claim its requests.storage and counts, a
//     Service its counts, load balancer and node ports, anything else its count) to its
//     namespace's ledger node under the object's UID, charges an update only for what it
//     adds (a Service turned into a LoadBalancer, an expanded claim, a grown container),
//     and refuses it when a limit anywhere up the tenant tree would be exceeded. It is fail closed: every error is a denial, and
//     Install writes failurePolicy: Fail.
//   - GenerateCerts makes the webhook's own CA and serving certificate in code; Serve
//     runs it over TLS; Install creates or updates the one ValidatingWebhookConfiguration
//     (by URL or Service) with the CA bundle and the Rules.
//   - ObjectTracker commits reservations when pods, claims, Services and counted objects
//     (metadata informers, CountedEventHandler) appear, follows updates, frees charges
//     exactly once when they end or are deleted, and resyncs the ledger from a full list.
//     Tracker is the same for pods alone.
//
// It is not a general admission framework: it charges quota and nothing else; the
// syncer charges the pods it creates through quota.Ledger.Admit in process.
package admission
