package vcluster

import (
	"fmt"
	"regexp"
	"strings"
)

// DefaultProvisioner is the provisioner used when Spec.Provisioner is empty.
const DefaultProvisioner = "local"

// DefaultKubernetesVersion is the version used when Spec.KubernetesVersion is
// empty: the release the project builds its binaries from.
const DefaultKubernetesVersion = "v1.37.2"

// supportedVersions are the Kubernetes releases the SDK is tested with; any
// patch of a listed minor is accepted, and a bare minor means its listed patch.
var supportedVersions = []string{"v1.37.2"}

// SupportedKubernetesVersions returns the Kubernetes versions a
// VirtualCluster may ask for, newest first.
func SupportedKubernetesVersions() []string { return append([]string(nil), supportedVersions...) }

var versionRE = regexp.MustCompile(`^v?(\d+)\.(\d+)(?:\.(\d+))?$`)

// ResolveKubernetesVersion turns a spec version ("", "1.37", "v1.37",
// "v1.37.2") into the full supported version it selects. The error says
// whether the string is malformed or names a release that is not supported,
// and lists the supported ones.
func ResolveKubernetesVersion(v string) (string, error) {
	if v == "" {
		return DefaultKubernetesVersion, nil
	}
	m := versionRE.FindStringSubmatch(v)
	if m == nil {
		return "", fmt.Errorf("%w: %q is not a Kubernetes version (want vMAJOR.MINOR or vMAJOR.MINOR.PATCH, e.g. %s)",
			ErrUnsupportedVersion, v, DefaultKubernetesVersion)
	}
	minor := "v" + m[1] + "." + m[2]
	for _, s := range supportedVersions {
		if !strings.HasPrefix(s, minor+".") {
			continue
		}
		if m[3] == "" || s == minor+"."+m[3] {
			return s, nil
		}
	}
	return "", fmt.Errorf("%w: Kubernetes %s is not supported (supported: %s)",
		ErrUnsupportedVersion, v, strings.Join(supportedVersions, ", "))
}
