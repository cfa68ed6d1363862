package kubeletproxy

import (
	"fmt"
	"net/url"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Kinds of kubelet requests the Server serves.
const (
	KindLogs        = "containerLogs"
	KindExec        = "exec"
	KindAttach      = "attach"
	KindPortForward = "portForward"
)

// Request is a parsed kubelet API path.
type Request struct {
	// Kind is one of KindLogs, KindExec, KindAttach, KindPortForward.
	Kind string
	// Namespace, Pod and Container are the virtual names; Container is
	// empty for KindPortForward.
	Namespace, Pod, Container string
}

// subresource is the host API server's pod subresource for the kind.
func (r Request) subresource() string {
	switch r.Kind {
	case KindLogs:
		return "log"
	case KindPortForward:
		return "portforward"
	}
	return r.Kind
}

// ParsePath parses the escaped path of a kubelet API request. Only the
// four kinds the API server uses for pod logs and streams are accepted,
// with exactly their segments, each a valid name after unescaping (so an
// encoded "/" or ".." never passes). The error names the offending part.
func ParsePath(escaped string) (Request, error) {
	if !strings.HasPrefix(escaped, "/") {
		return Request{}, fmt.Errorf("path %q: must start with /", escaped)
	}
	parts := strings.Split(escaped[1:], "/")
	var r Request
	want := 4
	switch parts[0] {
	case KindLogs, KindExec, KindAttach:
	case KindPortForward:
		want = 3
	default:
		return Request{}, fmt.Errorf("path %q: %q is not served (only %s, %s, %s and %s)", escaped, parts[0], KindLogs, KindExec, KindAttach, KindPortForward)
	}
	if len(parts) != want {
		return Request{}, fmt.Errorf("path %q: want /%s/{namespace}/{pod}%s", escaped, parts[0], map[bool]string{true: "/{container}", false: ""}[want == 4])
	}
	r.Kind = parts[0]
	fields := []struct {
		name  string
		dst   *string
		check func(string) []string
	}{
		{"namespace", &r.Namespace, validation.IsDNS1123Label},
		{"pod", &r.Pod, validation.IsDNS1123Subdomain},
		{"container", &r.Container, validation.IsDNS1123Label},
	}
	for i, seg := range parts[1:] {
		f := fields[i]
		v, err := url.PathUnescape(seg)
		if err != nil {
			return Request{}, fmt.Errorf("path %q: %s: %w", escaped, f.name, err)
		}
		if v != seg {
			return Request{}, fmt.Errorf("path %q: %s %q: escaped characters are not allowed in names", escaped, f.name, seg)
		}
		if msgs := f.check(v); len(msgs) > 0 {
			return Request{}, fmt.Errorf("path %q: %s %q: %s", escaped, f.name, v, strings.Join(msgs, "; "))
		}
		*f.dst = v
	}
	return r, nil
}

// hostQuery translates the kubelet's query parameters of r into the host
// API server's for the pod subresource; unknown parameters are dropped.
func hostQuery(r Request, in url.Values) url.Values {
	out := url.Values{}
	if r.Container != "" {
		out.Set("container", r.Container)
	}
	switch r.Kind {
	case KindLogs:
		for _, k := range []string{"follow", "previous", "timestamps", "sinceSeconds", "sinceTime", "tailLines", "limitBytes", "stream"} {
			if v, ok := in[k]; ok && len(v) > 0 {
				out.Set(k, v[0])
			}
		}
	case KindExec, KindAttach:
		// The kubelet's names (pkg/apis/core ExecStdinParam and friends)
		// become the API's PodExecOptions fields.
		for kubelet, api := range map[string]string{"input": "stdin", "output": "stdout", "error": "stderr", "tty": "tty"} {
			if v := in.Get(kubelet); v == "1" || v == "true" {
				out.Set(api, "true")
			}
		}
		if r.Kind == KindExec {
			out["command"] = append([]string(nil), in["command"]...)
		}
	case KindPortForward:
		for _, p := range in["port"] {
			for _, q := range strings.Split(p, ",") {
				if q != "" {
					out.Add("ports", q)
				}
			}
		}
	}
	return out
}
