package api

import (
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/vclusterkit/vclusterkit/api/auth"
	"github.com/vclusterkit/vclusterkit/quota/showback"
)

// operation documents one route. The table is written by hand, apart from
// the routes the mux registers, so that the test that compares them
// (every route documented, nothing documented that is not served) means
// something.
type operation struct {
	method, path, summary string
	request, response     any // zero values of the body types; nil for none
	status                int
	params                []string // query parameters
}

var operations = []operation{
	{method: "GET", path: "/openapi.json", summary: "This document.", status: 200},
	{method: "GET", path: "/whoami", summary: "The caller, its groups, how it signed in, an API key's scope and its effective role in each tenant.", response: WhoAmI{}, status: 200},
	{method: "GET", path: "/tenants", summary: "Tenants the caller has a role in, parents before children, with usage against quota.", response: List[Tenant]{}, status: 200, params: []string{"limit", "continue"}},
	{method: "GET", path: "/tenants/{tenant}", summary: "One tenant.", response: Tenant{}, status: 200},
	{method: "GET", path: "/tenants/{tenant}/cost", summary: "Priced usage (requested resources × time) of the tenant's subtree in one period.", response: showback.Report{}, status: 200, params: []string{"period"}},
	{method: "GET", path: "/tenants/{tenant}/members", summary: "Effective members: direct and inherited, with the tenant granting each role.", response: List[Member]{}, status: 200},
	{method: "PUT", path: "/tenants/{tenant}/members", summary: "Add a member or change its role (admin).", request: SetMember{}, response: Member{}, status: 200},
	{method: "DELETE", path: "/tenants/{tenant}/members/{kind}/{name}", summary: "Remove a direct member (admin).", status: 204},
	{method: "GET", path: "/spaces", summary: "Spaces of the tenants the caller has a role in.", response: List[Space]{}, status: 200, params: []string{"tenant", "limit", "continue"}},
	{method: "POST", path: "/spaces", summary: "Create a space (admin of the tenant).", request: CreateSpace{}, response: Space{}, status: 201},
	{method: "GET", path: "/spaces/{name}", summary: "One space.", response: Space{}, status: 200},
	{method: "DELETE", path: "/spaces/{name}", summary: "Delete a space (admin); the engine removes its namespace.", status: 202},
	{method: "GET", path: "/virtualclusters", summary: "Virtual clusters of the tenants the caller has a role in.", response: List[VirtualCluster]{}, status: 200, params: []string{"tenant", "limit", "continue"}},
	{method: "POST", path: "/virtualclusters", summary: "Create a virtual cluster (admin of the tenant).", request: CreateVirtualCluster{}, response: VirtualCluster{}, status: 201},
	{method: "GET", path: "/virtualclusters/{name}", summary: "One virtual cluster.", response: VirtualCluster{}, status: 200},
	{method: "DELETE", path: "/virtualclusters/{name}", summary: "Delete a virtual cluster (admin); the engine tears it down.", response: VirtualCluster{}, status: 202},
	{method: "POST", path: "/virtualclusters/{name}/sleep", summary: "Put the control plane to sleep (edit).", response: VirtualCluster{}, status: 200},
	{method: "POST", path: "/virtualclusters/{name}/wake", summary: "Wake the control plane (edit).", response: VirtualCluster{}, status: 200},
	{method: "GET", path: "/virtualclusters/{name}/kubeconfig", summary: "The caller's own kubeconfig: a client certificate signed by the virtual cluster, valid for KubeconfigLifetime (signed-in users only; X-Credential-Expires says until when).", status: 200},
	{method: "GET", path: "/reachability", summary: "Which namespace reaches which under the NetworkPolicies in force, over the caller's spaces and virtual clusters.", response: Reachability{}, status: 200},
	{method: "GET", path: "/events", summary: "Server-sent events: one `virtualcluster` event (JSON Event) per change of a virtual cluster the caller can see.", response: Event{}, status: 200},
	{method: "GET", path: "/apikeys", summary: "The caller's API keys (never the keys themselves).", response: List[auth.Key]{}, status: 200},
	{method: "POST", path: "/apikeys", summary: "Issue an API key on a tenant subtree with a role the caller holds there (signed-in users only); the key is shown once.", request: CreateKey{}, response: CreatedKey{}, status: 201},
	{method: "DELETE", path: "/apikeys/{id}", summary: "Revoke a key (its creator or an admin of its tenant).", status: 204},
}

// OpenAPI returns the API's OpenAPI 3.0 document.
func OpenAPI() map[string]any {
	schemas := map[string]any{"Error": schemaOf(reflect.TypeOf(errorBody{}), nil)}
	paths := map[string]any{}
	for _, op := range operations {
		p, _ := paths[Prefix+op.path].(map[string]any)
		if p == nil {
			p = map[string]any{}
			paths[Prefix+op.path] = p
		}
		o := map[string]any{"summary": op.summary, "operationId": strings.ToLower(op.method) + strings.NewReplacer("/", "_", "{", "", "}", "").Replace(op.path)}
		var params []any
		for _, seg := range strings.Split(op.path, "/") {
			if strings.HasPrefix(seg, "{") {
				params = append(params, map[string]any{"name": strings.Trim(seg, "{}"), "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
			}
		}
		for _, q := range op.params {
			params = append(params, map[string]any{"name": q, "in": "query", "schema": map[string]any{"type": "string"}})
		}
		if params != nil {
			o["parameters"] = params
		}
		if op.request != nil {
			o["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(op.request), schemas)}}}
		}
		ok := map[string]any{"description": http.StatusText(op.status)}
		if op.response != nil {
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(op.response), schemas)}}
		}
		resp := map[string]any{strconv.Itoa(op.status): ok}
		if op.path != "/openapi.json" {
			o["security"] = []any{map[string]any{"bearer": []any{}}}
			resp["default"] = map[string]any{"description": "error", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
		}
		o["responses"] = resp
		p[strings.ToLower(op.method)] = o
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info":    map[string]any{"title": "vclusterkit platform API", "version": "v1"},
		"paths":   paths,
		"components": map[string]any{
			"schemas":         schemas,
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "An OIDC ID token or an API key (vck_…)."}},
		},
	}
}

var timeType = reflect.TypeOf(time.Time{})

// schemaOf describes t; named structs go into schemas and are referenced.
func schemaOf(t reflect.Type, schemas map[string]any) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.Pointer:
		return schemaOf(t.Elem(), schemas)
	case t.Kind() == reflect.String:
		return map[string]any{"type": "string"}
	case t.Kind() == reflect.Bool:
		return map[string]any{"type": "boolean"}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return map[string]any{"type": "integer"}
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return map[string]any{"type": "number"}
	case t.Kind() == reflect.Slice:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem(), schemas)}
	case t.Kind() == reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem(), schemas)}
	case t.Kind() == reflect.Struct:
		props := map[string]any{}
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			props[name] = schemaOf(f.Type, schemas)
		}
		s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if schemas == nil || t.Name() == "" {
			return s
		}
		n := t.Name()
		if i := strings.Index(n, "["); i >= 0 {
			inner := n[i+1 : len(n)-1]
			n = n[:i] + "Of" + inner[strings.LastIndex(inner, ".")+1:]
		}
		if _, ok := schemas[n]; !ok {
			schemas[n] = nil // break cycles
			schemas[n] = s
		}
		return map[string]any{"$ref": "#/components/schemas/" + n}
	}
	return map[string]any{}
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, OpenAPI())
}
