package secrets_test

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/vclusterkit/vclusterkit/sync/resources/secrets"
)

func ExampleToHost() {
	h := secrets.ToHost(&corev1.Secret{Type: corev1.SecretTypeServiceAccountToken, Data: map[string][]byte{"token": []byte("t")}})
	fmt.Println(h.Type)
	// Output: Opaque
}
