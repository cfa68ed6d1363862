package hostsmoke

import (
	"os"
	"testing"

	"sigs.k8s.io/e2e-framework/pkg/env"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
)

var testEnv env.Environment

func TestMain(m *testing.M) {
	testEnv = env.New()
	testEnv.Setup(testenv.E2ESetup(testenv.HostOptions{Nodes: 2}))
	testEnv.Finish(testenv.E2EFinish())
	os.Exit(testEnv.Run(m))
}
