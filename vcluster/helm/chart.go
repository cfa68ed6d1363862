package helm

import (
	"embed"
	"fmt"
	"io/fs"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
)

//go:embed all:chart
var chartFS embed.FS

// DefaultChart returns the embedded default chart: a StatefulSet running
// kube-apiserver, kube-controller-manager and (for sqlite and postgres)
// kine; Services; the syncer's ServiceAccount, Role and RoleBinding; and
// Secrets for the PKI, the admin kubeconfig and the store DSN. Image names
// are values (images.apiServer, images.controllerManager, images.kine).
func DefaultChart() (*chart.Chart, error) {
	var files []*loader.BufferedFile
	err := fs.WalkDir(chartFS, "chart", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := chartFS.ReadFile(path)
		if err != nil {
			return err
		}
		files = append(files, &loader.BufferedFile{Name: strings.TrimPrefix(path, "chart/"), Data: b})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading embedded chart: %w", err)
	}
	c, err := loader.LoadFiles(files)
	if err != nil {
		return nil, fmt.Errorf("loading embedded chart: %w", err)
	}
	return c, nil
}
