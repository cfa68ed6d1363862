package helm

import (
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// restGetter gives Helm's kube client a rest.Config instead of a kubeconfig
// file, with one cached discovery client and REST mapper shared by every
// action.
type restGetter struct {
	cfg       *rest.Config
	namespace string

	disc *discoveryCache
}

type discoveryCache struct {
	once sync.Once
	dc   discovery.CachedDiscoveryInterface
	rm   meta.RESTMapper
	err  error
}

func (c *discoveryCache) get(cfg *rest.Config) (discovery.CachedDiscoveryInterface, meta.RESTMapper, error) {
	c.once.Do(func() {
		d, err := discovery.NewDiscoveryClientForConfig(cfg)
		if err != nil {
			c.err = err
			return
		}
		c.dc = memory.NewMemCacheClient(d)
		c.rm = restmapper.NewShortcutExpander(restmapper.NewDeferredDiscoveryRESTMapper(c.dc), c.dc, nil)
	})
	return c.dc, c.rm, c.err
}

func (g *restGetter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.cfg), nil }

func (g *restGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	dc, _, err := g.disc.get(g.cfg)
	return dc, err
}

func (g *restGetter) ToRESTMapper() (meta.RESTMapper, error) {
	_, rm, err := g.disc.get(g.cfg)
	return rm, err
}

// ToRawKubeConfigLoader only serves the namespace; clients come from
// ToRESTConfig.
func (g *restGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	c := clientcmdapi.NewConfig()
	c.Clusters["host"] = &clientcmdapi.Cluster{Server: g.cfg.Host}
	c.Contexts["host"] = &clientcmdapi.Context{Cluster: "host", Namespace: g.namespace}
	c.CurrentContext = "host"
	return clientcmd.NewDefaultClientConfig(*c, &clientcmd.ConfigOverrides{})
}
