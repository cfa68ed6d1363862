// Package names derives the names of the objects the engine creates from
// user-supplied ones (member names from an identity provider may be anything).
package names

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// DNSSafe turns s into a DNS-label-safe name part that never collides
// for different inputs: s itself when it already is one (lower case, at
// most 40 characters), else a lower-cased, cut-down form followed by 8 hex
// characters of the SHA-256 of s ("Bob" and "bob", "bob.smith" and
// "bob-smith" get different names).
func DNSSafe(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == s && len(out) <= 40 && out != "" {
		return out
	}
	if len(out) > 31 {
		out = strings.TrimRight(out[:31], "-")
	}
	sum := sha256.Sum256([]byte(s))
	if out == "" {
		return hex.EncodeToString(sum[:4])
	}
	return out + "-" + hex.EncodeToString(sum[:4])
}

// KubeconfigSecret names the Secret holding a virtual cluster's admin
// kubeconfig (in the VirtualCluster's namespace).
func KubeconfigSecret(vcName string) string { return vcName + "-kubeconfig" }

// MemberKubeconfigSecret names the Secret holding a member's kubeconfig for
// a virtual cluster (in the VirtualCluster's namespace, key "config").
func MemberKubeconfigSecret(vcName, user string) string {
	return KubeconfigSecret(vcName) + "-" + DNSSafe(user)
}

// MemberBinding names the RoleBinding that grants a member its role in a
// space's namespace.
func MemberBinding(m tenancy.Member) string {
	kind := "user"
	if m.Kind == tenancy.MemberGroup {
		kind = "group"
	}
	return "vclusterkit-" + kind + "-" + DNSSafe(m.Name)
}
