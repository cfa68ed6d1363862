// Command operator is a production-shaped operator binary that embeds the
// vclusterkit Engine: the template to start from when the engine runs inside
// a host cluster, deployed with the Helm chart in ./chart.
//
// It is a thin main around vclusterkit.New and Engine.Start. What it adds is
// what an operator needs in production and a library must not decide:
//
//   - flags (its own flag.FlagSet: controller-runtime registers a global
//     --kubeconfig on import) for the host kubeconfig, leader election, the
//     metrics and health probe addresses, the quota webhook's listen address
//     and Service, CRD installation and the provisioners to register;
//   - structured JSON (or text) logging through log/slog and logr;
//   - graceful shutdown on SIGTERM and SIGINT: the engine stops its
//     controllers, syncers and webhook, then the process exits 0;
//   - a leader label on its own Pod (when POD_NAME and POD_NAMESPACE are set
//     through the downward API), so the quota webhook Service routes
//     admission requests to the one replica whose ledger is authoritative.
//
// It is not a place for platform logic: add controllers through
// Engine.Manager() in your own copy.
package main
