package api_test

import (
	"fmt"
	"sort"

	"github.com/vclusterkit/vclusterkit/api"
)

// The OpenAPI document the server serves at /api/v1/openapi.json.
func ExampleOpenAPI() {
	doc := api.OpenAPI()
	paths := doc["paths"].(map[string]any)
	var names []string
	for p := range paths {
		names = append(names, p)
	}
	sort.Strings(names)
	fmt.Println(doc["openapi"], len(names), names[0])
	// Output:
	// 3.0.3 18 /api/v1/apikeys
}
