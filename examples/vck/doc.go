// Command vck is the platform's command line, a client of the HTTP/JSON API
// (package api) that any embedder serves:
//
//	vck login --server https://platform.example.com --api-key vck_…   (or --token <OIDC ID token>)
//	vck whoami
//	vck tree
//	vck vc create web --tenant acme-web --wait
//	vck vc list | describe web | delete web
//	vck space create web-dev --tenant acme-web
//	vck sleep web; vck wake web
//	vck kubeconfig web > web.kubeconfig
//	vck connect web            (merges into $KUBECONFIG or ~/.kube/config and switches context)
//	vck cost acme --period 2026-12-07   (priced usage of acme's subtree)
//	vck completion bash|zsh|fish|powershell
//
// Every command takes -o table|json|yaml. Errors say what to do next
// (sign in again, ask an admin of the tenant, check the server address).
// The credential is kept in $VCK_CONFIG (default ~/.config/vck/config.json,
// mode 0600).
package main
