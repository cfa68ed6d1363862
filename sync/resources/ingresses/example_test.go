package ingresses_test

import (
	"fmt"

	"github.com/vclusterkit/vclusterkit/sync/resources/ingresses"
)

func ExampleOverlap() {
	fmt.Println(ingresses.Overlap("*.example.com", "shop.example.com"), ingresses.Overlap("a.example.com", "b.example.com"))
	// Output: true false
}
