// Package kube is kindling's client-go layer: connecting with kubectl's conventions, resolving the target
// workload (Deployment, StatefulSet or DaemonSet) and its pods, exec into a container, and turning API
// errors into actionable messages.
package kube

import (
	"fmt"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Client is a connection to one cluster, with the namespace the session works in.
type Client struct {
	Config    *rest.Config
	Clientset kubernetes.Interface
	Namespace string
}

// Connect follows kubectl: --kubeconfig, else $KUBECONFIG, else ~/.kube/config (or the in-cluster config);
// --context picks a context; the namespace is --namespace, else the context's, else "default".
func Connect(kubeconfig, context, namespace string) (*Client, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: context}
	if namespace != "" {
		overrides.Context.Namespace = namespace
	}
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := loader.ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			return nil, fmt.Errorf("no cluster configured: set KUBECONFIG or pass --kubeconfig (and --context to pick one)")
		}
		return nil, fmt.Errorf("kubeconfig: %v", err)
	}
	ns, _, err := loader.Namespace()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %v", err)
	}
	// A save triggers a burst of requests (exec per pod, watches): client-go's default 5 QPS would throttle it.
	cfg.QPS, cfg.Burst = 100, 200
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %v", err)
	}
	return &Client{Config: cfg, Clientset: cs, Namespace: ns}, nil
}
