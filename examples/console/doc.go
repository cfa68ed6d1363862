// Command console is the platform's web portal for a tenant admin's daily
// work, built on the same HTTP/JSON API as the CLI (package api): sign-in,
// the tenant tree with usage bars against quota, create/delete/sleep/wake
// of virtual clusters and spaces, members, kubeconfig download, the
// reachability matrix, and phase changes that appear without a reload
// (server-sent events).
//
// It is static HTML and one script, no build toolchain. Security: the
// credential (an OIDC ID token or an API key) lives in an HttpOnly,
// SameSite=Strict cookie that the console turns into the API's bearer
// header; every state-changing request must also carry the CSRF token
// (double-submit cookie) and pass Go's cross-origin protection; the
// Content-Security-Policy allows scripts and styles from the console only
// (no inline script, no eval), and the page writes names with textContent
// only, so tenant names and display names holding markup stay text.
// Identity headers from clients are never read.
//
// Sign-in takes a token pasted into the form; an embedder puts its OIDC
// authorization-code redirect in front of POST /session.
package main
