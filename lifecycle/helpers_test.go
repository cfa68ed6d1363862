package lifecycle_test

import metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

func metricsOff() metricsserver.Options { return metricsserver.Options{BindAddress: "0"} }
