package vclusterkit_test

import (
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
)

func addCore(s *runtime.Scheme) error { return clientgoscheme.AddToScheme(s) }

// eventually is testenv.Eventually.
var eventually = testenv.Eventually
