// Package admission serves a quota.Ledger as a validating admission webhook for pod
// creates in host namespaces, and keeps the ledger in step with the pods that exist.
//
//   - Webhook decides AdmissionReviews: it charges each new pod (LimitRange defaults
//     applied) to its namespace's ledger node under the pod's UID, and refuses it when a
//     limit anywhere up the tenant tree would be exceeded. It is fail closed: every error
//     is a denial, and Install writes failurePolicy: Fail.
//   - GenerateCerts makes the webhook's own CA and serving certificate in code; Serve
//     runs it over TLS; Install creates or updates the ValidatingWebhookConfiguration
//     (by URL or Service) with the CA bundle.
//   - Tracker commits reservations when pods appear, frees them exactly once when pods
//     end or are deleted, and resyncs the ledger from a full pod list.
//
// It is not a general admission framework and handles pods only; other objects are
// charged through quota.Ledger.Admit directly (the syncer does so in process).
package admission
