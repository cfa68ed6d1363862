package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"

	"github.com/vclusterkit/vclusterkit/api"
	"github.com/vclusterkit/vclusterkit/quota/showback"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cmd := newRoot(os.Stdout, os.Stderr, os.Getenv)
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// config is what login keeps.
type config struct {
	Server string `json:"server"`
	Token  string `json:"token"`
}

// cli holds what every command shares.
type cli struct {
	out, errOut io.Writer
	getenv      func(string) string
	output      string
}

func (c *cli) configPath() string {
	if p := c.getenv("VCK_CONFIG"); p != "" {
		return p
	}
	home := c.getenv("HOME")
	return filepath.Join(home, ".config", "vck", "config.json")
}

func (c *cli) client() (*apiClient, error) {
	b, err := os.ReadFile(c.configPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, errNotLoggedIn
	}
	if err != nil {
		return nil, err
	}
	var cfg config
	if err := json.Unmarshal(b, &cfg); err != nil || cfg.Server == "" || cfg.Token == "" {
		return nil, fmt.Errorf("%s is damaged: %v\n  hint: vck login again", c.configPath(), err)
	}
	return &apiClient{server: cfg.Server, token: cfg.Token, http: newHTTPClient()}, nil
}

// print writes v as JSON or YAML, or calls table for the table form.
func (c *cli) print(v any, table func(w *tabwriter.Writer)) error {
	switch c.output {
	case "json":
		enc := json.NewEncoder(c.out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "yaml":
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = c.out.Write(b)
		return err
	case "", "table":
		w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
		table(w)
		return w.Flush()
	}
	return fmt.Errorf("-o %q: want table, json or yaml", c.output)
}

func newRoot(out, errOut io.Writer, getenv func(string) string) *cobra.Command {
	c := &cli{out: out, errOut: errOut, getenv: getenv}
	root := &cobra.Command{
		Use:           "vck",
		Short:         "vck drives a vclusterkit platform: tenants, spaces and virtual clusters",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			switch c.output {
			case "", "table", "json", "yaml":
				return nil
			}
			return fmt.Errorf("-o %q: want table, json or yaml", c.output)
		},
	}
	root.SetOut(out)
	root.SetErr(errOut)
	root.PersistentFlags().StringVarP(&c.output, "output", "o", "table", "output format: table, json or yaml")
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	root.AddCommand(c.loginCmd(), c.whoamiCmd(), c.treeCmd(), c.vcCmd(), c.spaceCmd(),
		c.sleepCmd(true), c.sleepCmd(false), c.kubeconfigCmd(), c.connectCmd(), c.costCmd())
	return root
}

func (c *cli) loginCmd() *cobra.Command {
	var server, key, token, issuer, clientID string
	cmd := &cobra.Command{
		Use:   "login --server URL (--api-key KEY | --token ID_TOKEN | --oidc-issuer URL --client-id ID)",
		Short: "Sign in (an API key, an OIDC ID token, or the OIDC device flow) and keep the credential",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if server == "" {
				return errors.New("--server is required (the platform API's base URL, https://HOST)")
			}
			given := 0
			for _, v := range []string{key, token, issuer} {
				if v != "" {
					given++
				}
			}
			if given != 1 {
				return errors.New("give exactly one of --api-key, --token and --oidc-issuer (device sign-in)")
			}
			if issuer != "" {
				if clientID == "" {
					return errors.New("--client-id is required with --oidc-issuer (the platform's OIDC client, the audience of its ID tokens)")
				}
				t, err := deviceLogin(cmd.Context(), c.errOut, newHTTPClient(), issuer, clientID)
				if err != nil {
					return err
				}
				token = t
			}
			u, err := url.Parse(server)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return fmt.Errorf("--server %q: want a URL like https://platform.example.com", server)
			}
			cred := key + token
			ac := &apiClient{server: server, token: cred, http: newHTTPClient()}
			var who api.WhoAmI
			if err := ac.do(cmd.Context(), "GET", "/whoami", nil, &who); err != nil {
				// A device sign-in for the wrong client is refused for its
				// audience; signing in again the same way would not help.
				var ae *apiError
				if issuer != "" && errors.As(err, &ae) && ae.api.Code == http.StatusUnauthorized && strings.Contains(ae.api.Message, "audience") {
					ae.hint = "the issuer signed you in for client " + clientID + ", which this platform does not accept: check --client-id"
				}
				return fmt.Errorf("signing in: %w", err)
			}
			b, _ := json.MarshalIndent(config{Server: server, Token: cred}, "", "  ")
			p := c.configPath()
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return err
			}
			if err := os.WriteFile(p, b, 0o600); err != nil {
				return err
			}
			fmt.Fprintf(c.errOut, "signed in to %s as %s (%s); credential kept in %s\n", server, who.Name, who.Method, p)
			return nil
		},
	}
	cmd.Flags().StringVar(&server, "server", "", "platform API base URL")
	cmd.Flags().StringVar(&key, "api-key", "", "an API key (vck_…)")
	cmd.Flags().StringVar(&token, "token", "", "an OIDC ID token")
	cmd.Flags().StringVar(&issuer, "oidc-issuer", "", "sign in with the OIDC device flow at this issuer")
	cmd.Flags().StringVar(&clientID, "client-id", "", "OIDC client ID for the device flow")
	return cmd
}

func (c *cli) whoamiCmd() *cobra.Command {
	return &cobra.Command{
		Use: "whoami", Short: "Show who you are signed in as and your roles", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ac, err := c.client()
			if err != nil {
				return err
			}
			var who api.WhoAmI
			if err := ac.do(cmd.Context(), "GET", "/whoami", nil, &who); err != nil {
				return err
			}
			return c.print(who, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "user\t%s\nsigned in with\t%s\ngroups\t%s\n", who.Name, who.Method, strings.Join(who.Groups, ", "))
				if who.Scope != nil {
					fmt.Fprintf(w, "key scope\t%s (%s) on %s\n", who.Scope.KeyID, who.Scope.Role, who.Scope.Tenant)
				}
				var ts []string
				for t := range who.Roles {
					ts = append(ts, t)
				}
				sort.Strings(ts)
				for _, t := range ts {
					fmt.Fprintf(w, "role in %s\t%s\n", t, who.Roles[t])
				}
			})
		},
	}
}

func (c *cli) treeCmd() *cobra.Command {
	return &cobra.Command{
		Use: "tree", Short: "Show the tenants you have a role in, with usage against quota", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ac, err := c.client()
			if err != nil {
				return err
			}
			ts, err := listAll[api.Tenant](cmd.Context(), ac, "/tenants", nil)
			if err != nil {
				return err
			}
			return c.print(ts, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "TENANT\tROLE\tREADY\tSPACES\tVCS\tUSAGE")
				for _, t := range ts {
					var us []string
					for _, u := range t.Usage {
						s := u.Resource + " " + u.Used
						if u.Hard != "" {
							s += "/" + u.Hard
						}
						us = append(us, s)
					}
					fmt.Fprintf(w, "%s%s\t%s\t%s\t%d\t%d\t%s\n", strings.Repeat("  ", t.Depth), t.Name, t.Role, t.Ready, t.Spaces, t.VirtualClusters, strings.Join(us, ", "))
				}
			})
		},
	}
}

func vcTable(vcs ...api.VirtualCluster) func(w *tabwriter.Writer) {
	return func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "NAME\tTENANT\tPHASE\tHOST NAMESPACE\tAGE")
		for _, v := range vcs {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", v.Name, v.Tenant, v.Phase, v.HostNamespace, time.Since(v.Created).Round(time.Second))
		}
	}
}

// completeVCs completes virtual cluster names from the API.
func (c *cli) completeVCs(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ac, err := c.client()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	vcs, err := listAll[api.VirtualCluster](cmd.Context(), ac, "/virtualclusters", nil)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var names []string
	for _, v := range vcs {
		names = append(names, v.Name)
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

func (c *cli) vcCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "vc", Aliases: []string{"virtualcluster", "vcs"}, Short: "Create, list, describe and delete virtual clusters"}
	var tenant, version, sleepAfter string
	var wait bool
	create := &cobra.Command{
		Use: "create NAME --tenant TENANT", Short: "Create a virtual cluster", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ac, err := c.client()
			if err != nil {
				return err
			}
			if tenant == "" {
				return errors.New("--tenant is required (vck tree lists the tenants you can create in)")
			}
			var v api.VirtualCluster
			if err := ac.do(cmd.Context(), "POST", "/virtualclusters", api.CreateVirtualCluster{Name: args[0], Tenant: tenant, KubernetesVersion: version, SleepAfter: sleepAfter}, &v); err != nil {
				return err
			}
			if wait {
				if v, err = waitPhase(cmd.Context(), ac, v.Name, "Running", 5*time.Minute); err != nil {
					return err
				}
			}
			return c.print(v, vcTable(v))
		},
	}
	create.Flags().StringVar(&tenant, "tenant", "", "owning tenant")
	create.Flags().StringVar(&version, "kubernetes-version", "", "Kubernetes version; empty for the default")
	create.Flags().StringVar(&sleepAfter, "sleep-after", "", "sleep after this long without API requests (30m)")
	create.Flags().BoolVar(&wait, "wait", false, "wait until it is Running")
	var listTenant string
	list := &cobra.Command{
		Use: "list", Aliases: []string{"ls"}, Short: "List virtual clusters", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ac, err := c.client()
			if err != nil {
				return err
			}
			q := url.Values{}
			if listTenant != "" {
				q.Set("tenant", listTenant)
			}
			vcs, err := listAll[api.VirtualCluster](cmd.Context(), ac, "/virtualclusters", q)
			if err != nil {
				return err
			}
			return c.print(vcs, vcTable(vcs...))
		},
	}
	list.Flags().StringVar(&listTenant, "tenant", "", "only this tenant's")
	describe := &cobra.Command{
		Use: "describe NAME", Short: "Show a virtual cluster", Args: cobra.ExactArgs(1), ValidArgsFunction: c.completeVCs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ac, err := c.client()
			if err != nil {
				return err
			}
			var v api.VirtualCluster
			if err := ac.do(cmd.Context(), "GET", "/virtualclusters/"+url.PathEscape(args[0]), nil, &v); err != nil {
				return err
			}
			return c.print(v, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "Name:\t%s\nTenant:\t%s\nPhase:\t%s\nPaused:\t%v\nEndpoint:\t%s\nHost namespace:\t%s\nKubernetes:\t%s\nCreated:\t%s\n",
					v.Name, v.Tenant, v.Phase, v.Paused, v.Endpoint, v.HostNamespace, v.KubernetesVersion, v.Created.Format(time.RFC3339))
				if v.Message != "" {
					fmt.Fprintf(w, "Message:\t%s\n", v.Message)
				}
			})
		},
	}
	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete a virtual cluster", Args: cobra.ExactArgs(1), ValidArgsFunction: c.completeVCs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ac, err := c.client()
			if err != nil {
				return err
			}
			if err := ac.do(cmd.Context(), "DELETE", "/virtualclusters/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(c.errOut, "virtual cluster %s is being deleted\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, describe, del)
	return cmd
}

func waitPhase(ctx context.Context, ac *apiClient, name, phase string, timeout time.Duration) (api.VirtualCluster, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var v api.VirtualCluster
	for {
		if err := ac.do(ctx, "GET", "/virtualclusters/"+url.PathEscape(name), nil, &v); err != nil {
			return v, err
		}
		if string(v.Phase) == phase {
			return v, nil
		}
		select {
		case <-ctx.Done():
			return v, fmt.Errorf("%s is %s after %s, not %s (%s)\n  hint: vck vc describe %s", name, v.Phase, timeout, phase, v.Message, name)
		case <-time.After(time.Second):
		}
	}
}

func (c *cli) spaceCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "space", Aliases: []string{"spaces"}, Short: "Create, list, describe and delete spaces (host namespaces)"}
	table := func(ss ...api.Space) func(w *tabwriter.Writer) {
		return func(w *tabwriter.Writer) {
			fmt.Fprintln(w, "NAME\tTENANT\tREADY")
			for _, s := range ss {
				fmt.Fprintf(w, "%s\t%s\t%s\n", s.Name, s.Tenant, s.Ready)
			}
		}
	}
	var tenant string
	create := &cobra.Command{
		Use: "create NAME --tenant TENANT", Short: "Create a space", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ac, err := c.client()
			if err != nil {
				return err
			}
			if tenant == "" {
				return errors.New("--tenant is required (vck tree lists the tenants you can create in)")
			}
			var s api.Space
			if err := ac.do(cmd.Context(), "POST", "/spaces", api.CreateSpace{Name: args[0], Tenant: tenant}, &s); err != nil {
				return err
			}
			return c.print(s, table(s))
		},
	}
	create.Flags().StringVar(&tenant, "tenant", "", "owning tenant")
	list := &cobra.Command{
		Use: "list", Aliases: []string{"ls"}, Short: "List spaces", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ac, err := c.client()
			if err != nil {
				return err
			}
			ss, err := listAll[api.Space](cmd.Context(), ac, "/spaces", nil)
			if err != nil {
				return err
			}
			return c.print(ss, table(ss...))
		},
	}
	describe := &cobra.Command{
		Use: "describe NAME", Short: "Show a space", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ac, err := c.client()
			if err != nil {
				return err
			}
			var s api.Space
			if err := ac.do(cmd.Context(), "GET", "/spaces/"+url.PathEscape(args[0]), nil, &s); err != nil {
				return err
			}
			return c.print(s, table(s))
		},
	}
	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete a space and its namespace", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ac, err := c.client()
			if err != nil {
				return err
			}
			if err := ac.do(cmd.Context(), "DELETE", "/spaces/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(c.errOut, "space %s is being deleted\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, describe, del)
	return cmd
}

func (c *cli) sleepCmd(sleep bool) *cobra.Command {
	verb := "wake"
	if sleep {
		verb = "sleep"
	}
	want := "Running"
	if sleep {
		want = "Sleeping"
	}
	var wait bool
	cmd := &cobra.Command{
		Use: verb + " NAME", Short: strings.ToUpper(verb[:1]) + verb[1:] + " a virtual cluster's control plane", Args: cobra.ExactArgs(1), ValidArgsFunction: c.completeVCs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ac, err := c.client()
			if err != nil {
				return err
			}
			var v api.VirtualCluster
			if err := ac.do(cmd.Context(), "POST", "/virtualclusters/"+url.PathEscape(args[0])+"/"+verb, nil, &v); err != nil {
				return err
			}
			if wait {
				if v, err = waitPhase(cmd.Context(), ac, v.Name, want, 5*time.Minute); err != nil {
					return err
				}
			} else if string(v.Phase) != want {
				// The answer shows the phase when the request was taken;
				// the engine gets there in seconds.
				fmt.Fprintf(c.errOut, "%s requested: %s is %s until the engine has done it (--wait waits for %s)\n", verb, v.Name, v.Phase, want)
			}
			return c.print(v, vcTable(v))
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until it is "+want+" (up to 5 minutes)")
	return cmd
}

func (c *cli) fetchKubeconfig(ctx context.Context, name string) ([]byte, error) {
	ac, err := c.client()
	if err != nil {
		return nil, err
	}
	var kc []byte
	if err := ac.do(ctx, "GET", "/virtualclusters/"+url.PathEscape(name)+"/kubeconfig", nil, &kc); err != nil {
		return nil, err
	}
	return kc, nil
}

func (c *cli) kubeconfigCmd() *cobra.Command {
	return &cobra.Command{
		Use: "kubeconfig NAME", Short: "Print your own short-lived kubeconfig for a virtual cluster", Args: cobra.ExactArgs(1), ValidArgsFunction: c.completeVCs,
		RunE: func(cmd *cobra.Command, args []string) error {
			kc, err := c.fetchKubeconfig(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			_, err = c.out.Write(kc)
			return err
		},
	}
}

// kubeconfigPath is where connect merges: the first $KUBECONFIG entry, or
// ~/.kube/config.
func (c *cli) kubeconfigPath() string {
	if k := c.getenv("KUBECONFIG"); k != "" {
		return filepath.SplitList(k)[0]
	}
	return filepath.Join(c.getenv("HOME"), ".kube", "config")
}

func (c *cli) connectCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use: "connect NAME", Short: "Merge your kubeconfig for a virtual cluster into your kubeconfig file and switch to it", Args: cobra.ExactArgs(1), ValidArgsFunction: c.completeVCs,
		RunE: func(cmd *cobra.Command, args []string) error {
			kc, err := c.fetchKubeconfig(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if path == "" {
				path = c.kubeconfigPath()
			}
			ctxName, err := mergeKubeconfig(path, kc, "vck-"+args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(c.errOut, "switched to context %q in %s\n", ctxName, path)
			return nil
		},
	}
	cmd.Flags().StringVar(&path, "kubeconfig", "", "kubeconfig file to merge into; empty means $KUBECONFIG's first entry or ~/.kube/config")
	return cmd
}

// mergeKubeconfig adds kc's current context, cluster and user to the file
// at path under name (replacing entries of that name), makes it current
// and writes the file back (0600). Other entries stay.
func mergeKubeconfig(path string, kc []byte, name string) (string, error) {
	in, err := clientcmd.Load(kc)
	if err != nil {
		return "", err
	}
	cur := in.Contexts[in.CurrentContext]
	if cur == nil {
		return "", errors.New("the kubeconfig from the API has no current context")
	}
	dst, err := clientcmd.LoadFromFile(path)
	if errors.Is(err, os.ErrNotExist) {
		dst = clientcmdapi.NewConfig()
	} else if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	dst.Clusters[name] = in.Clusters[cur.Cluster]
	dst.AuthInfos[name] = in.AuthInfos[cur.AuthInfo]
	dst.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	dst.CurrentContext = name
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	if err := clientcmd.WriteToFile(*dst, path); err != nil {
		return "", err
	}
	return name, os.Chmod(path, 0o600)
}

func (c *cli) costCmd() *cobra.Command {
	var period string
	cmd := &cobra.Command{
		Use: "cost TENANT", Short: "Show what a tenant subtree's requested resources cost in a period", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ac, err := c.client()
			if err != nil {
				return err
			}
			q := url.Values{}
			if period != "" {
				q.Set("period", period)
			}
			var rep showback.Report
			if err := ac.do(cmd.Context(), "GET", "/tenants/"+url.PathEscape(args[0])+"/cost?"+q.Encode(), nil, &rep); err != nil {
				return err
			}
			return c.print(rep, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "tenant %s (with its descendants), %s to %s\n", rep.Tenant, rep.Start.Format(time.RFC3339), rep.End.Format(time.RFC3339))
				fmt.Fprintln(w, "RESOURCE\tUSAGE\tPRICE\tCOST")
				for _, l := range rep.Lines {
					fmt.Fprintf(w, "%s\t%.4f %s-hours\t%.4f\t%.4f %s\n", l.Resource, l.UnitHours, l.Unit, l.PerUnitHour, l.Cost, rep.Currency)
				}
				fmt.Fprintf(w, "TOTAL\t\t\t%.4f %s\n", rep.Total, rep.Currency)
			})
		},
	}
	cmd.Flags().StringVar(&period, "period", "", "a day (2006-01-02); empty means the current period")
	return cmd
}
