package api

import (
	"encoding/base64"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

// WhoAmI is the caller and its effective roles.
type WhoAmI struct {
	Name   string                  `json:"name"`
	Groups []string                `json:"groups,omitempty"`
	Method string                  `json:"method"`
	Scope  *KeyScope               `json:"scope,omitempty"`
	Roles  map[string]tenancy.Role `json:"roles"`
}

// KeyScope is an API key's scope.
type KeyScope struct {
	KeyID  string       `json:"keyID"`
	Tenant string       `json:"tenant"`
	Role   tenancy.Role `json:"role"`
}

// ResourceUsage is one quota line: what the subtree uses against its hard
// limit.
type ResourceUsage struct {
	Resource string `json:"resource"`
	Used     string `json:"used"`
	Hard     string `json:"hard,omitempty"`
	// Percent is Used/Hard×100, absent without a hard limit.
	Percent *float64 `json:"percent,omitempty"`
}

// Tenant is a node of the tree as the caller sees it.
type Tenant struct {
	Name            string          `json:"name"`
	DisplayName     string          `json:"displayName,omitempty"`
	Parent          string          `json:"parent,omitempty"`
	Depth           int             `json:"depth"`
	Role            tenancy.Role    `json:"role"`
	Ready           string          `json:"ready"`
	Usage           []ResourceUsage `json:"usage"`
	Spaces          int32           `json:"spaces"`
	VirtualClusters int32           `json:"virtualClusters"`
	Children        []string        `json:"children,omitempty"`
}

// Member is an effective member of a tenant.
type Member struct {
	Kind tenancy.MemberKind `json:"kind"`
	Name string             `json:"name"`
	Role tenancy.Role       `json:"role"`
	// From is the tenant that grants the role (the tenant itself or an
	// ancestor).
	From string `json:"from"`
}

// Space is a host namespace of a tenant.
type Space struct {
	Name    string          `json:"name"`
	Tenant  string          `json:"tenant"`
	Ready   string          `json:"ready"`
	Usage   []ResourceUsage `json:"usage"`
	Created time.Time       `json:"created"`
}

// VirtualCluster is a virtual cluster as the API shows it.
type VirtualCluster struct {
	Name              string         `json:"name"`
	Tenant            string         `json:"tenant"`
	Phase             vcluster.Phase `json:"phase"`
	Message           string         `json:"message,omitempty"`
	Paused            bool           `json:"paused"`
	Endpoint          string         `json:"endpoint,omitempty"`
	HostNamespace     string         `json:"hostNamespace"`
	KubernetesVersion string         `json:"kubernetesVersion,omitempty"`
	Created           time.Time      `json:"created"`
	Deleting          bool           `json:"deleting,omitempty"`
}

// List is a page of items; Continue, when set, fetches the next page.
type List[T any] struct {
	Items    []T    `json:"items"`
	Continue string `json:"continue,omitempty"`
}

// CreateVirtualCluster is the body of POST /virtualclusters.
type CreateVirtualCluster struct {
	Name   string `json:"name"`
	Tenant string `json:"tenant"`
	// KubernetesVersion, empty for the default.
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	// SleepAfter puts it to sleep after this long without API requests
	// ("30m"); empty means never.
	SleepAfter string `json:"sleepAfter,omitempty"`
}

// CreateSpace is the body of POST /spaces.
type CreateSpace struct {
	Name   string `json:"name"`
	Tenant string `json:"tenant"`
}

// SetMember is the body of PUT /tenants/{tenant}/members.
type SetMember struct {
	Kind tenancy.MemberKind `json:"kind"`
	Name string             `json:"name"`
	Role tenancy.Role       `json:"role"`
}

// CreateKey is the body of POST /apikeys.
type CreateKey struct {
	Name   string       `json:"name"`
	Tenant string       `json:"tenant"`
	Role   tenancy.Role `json:"role"`
	// ExpiresIn is a Go duration ("720h"), at most 90 days.
	ExpiresIn string `json:"expiresIn"`
}

// CreatedKey is the answer of POST /apikeys: the key is shown once.
type CreatedKey struct {
	Key       string       `json:"key"`
	ID        string       `json:"id"`
	Name      string       `json:"name"`
	Tenant    string       `json:"tenant"`
	Role      tenancy.Role `json:"role"`
	ExpiresAt time.Time    `json:"expiresAt"`
}

// Reachability is the matrix of which namespace's pods may open a TCP
// connection to which namespace's pods under the NetworkPolicies in force.
type Reachability struct {
	// Names are the namespaces, rows (from) and columns (to) alike.
	Names []string `json:"names"`
	// Allowed[i][j] says whether Names[i] reaches Names[j].
	Allowed [][]bool `json:"allowed"`
	// Missing are namespaces of spaces or virtual clusters not created yet.
	Missing []string `json:"missing,omitempty"`
}

// Event is one server-sent event of /events: a virtual cluster or space
// added, modified or deleted.
type Event struct {
	Type           string          `json:"type"`
	VirtualCluster *VirtualCluster `json:"virtualCluster,omitempty"`
}

func usageOf(hard, used corev1.ResourceList) []ResourceUsage {
	names := map[corev1.ResourceName]bool{}
	for k := range hard {
		names[k] = true
	}
	for k := range used {
		names[k] = true
	}
	out := make([]ResourceUsage, 0, len(names))
	for k := range names {
		u := ResourceUsage{Resource: string(k), Used: "0"}
		q, hasUsed := used[k]
		if hasUsed {
			u.Used = q.String()
		}
		if h, ok := hard[k]; ok {
			u.Hard = h.String()
			if h.MilliValue() > 0 {
				p := float64(q.MilliValue()) / float64(h.MilliValue()) * 100
				p, _ = strconv.ParseFloat(strconv.FormatFloat(p, 'f', 1, 64), 64)
				u.Percent = &p
			}
		}
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Resource < out[j].Resource })
	return out
}

func conditionStatus(conds []metav1.Condition, t string) string {
	if c := meta.FindStatusCondition(conds, t); c != nil {
		return string(c.Status)
	}
	return "Unknown"
}

func vcView(vc *vcluster.VirtualCluster) VirtualCluster {
	v := VirtualCluster{Name: vc.Name, Tenant: vc.Spec.Tenant, Phase: vc.Status.Phase, Endpoint: vc.Status.Endpoint,
		HostNamespace: vc.EffectiveHostNamespace(), KubernetesVersion: vc.Status.KubernetesVersion,
		Created: vc.CreationTimestamp.UTC(), Deleting: vc.DeletionTimestamp != nil,
		Paused: vc.Spec.Sleep != nil && vc.Spec.Sleep.Paused}
	if v.Phase == "" {
		v.Phase = vcluster.PhasePending
	}
	if c := meta.FindStatusCondition(vc.Status.Conditions, "Ready"); c != nil && c.Status != metav1.ConditionTrue {
		v.Message = c.Message
	}
	return v
}

// paginate returns the page of items (sorted by key) after the continue
// token, at most limit long.
func paginate[T any](items []T, key func(T) string, limit int, cont string) (List[T], error) {
	sort.SliceStable(items, func(i, j int) bool { return key(items[i]) < key(items[j]) })
	start := 0
	if cont != "" {
		after, err := base64.RawURLEncoding.DecodeString(cont)
		if err != nil || len(after) == 0 {
			return List[T]{}, invalid("continue", "not a continue token this server issued")
		}
		start = sort.Search(len(items), func(i int) bool { return key(items[i]) > string(after) })
	}
	end := min(start+limit, len(items))
	out := List[T]{Items: items[start:end]}
	if out.Items == nil {
		out.Items = []T{}
	}
	if end < len(items) {
		out.Continue = base64.RawURLEncoding.EncodeToString([]byte(key(items[end-1])))
	}
	return out, nil
}

// pageParams reads limit (default 100, at most 500) and continue.
func pageParams(q map[string][]string) (int, string, error) {
	limit := 100
	if l := first(q["limit"]); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 500 {
			return 0, "", invalid("limit", "must be a whole number from 1 to 500, not %q", l)
		}
		limit = n
	}
	return limit, first(q["continue"]), nil
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
