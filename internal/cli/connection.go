package cli

import (
	"github.com/spf13/pflag"

	"github.com/kindling-dev/kindling/internal/kube"
)

// connection holds kubectl's flags for reaching the cluster and the target Deployment.
type connection struct {
	deployment, namespace, kubeconfig, context string
}

// register defines the flags; -d only with deploymentHelp (a command about no one Deployment has none).
func (c *connection) register(f *pflag.FlagSet, deploymentHelp string) {
	if deploymentHelp != "" {
		f.StringVarP(&c.deployment, "deployment", "d", "", deploymentHelp)
	}
	f.StringVarP(&c.namespace, "namespace", "n", "", `Kubernetes namespace (default: the context's namespace, else "default")`)
	f.StringVar(&c.kubeconfig, "kubeconfig", "", "Path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&c.context, "context", "", "Kubeconfig context to use")
}

func (c *connection) connect() (*kube.Client, error) {
	return kube.Connect(c.kubeconfig, c.context, c.namespace)
}
