package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/kindling-dev/kindling/internal/kube"
	"github.com/kindling-dev/kindling/internal/transport"
)

// cluster is the cli's one seam to Kubernetes: the API through the client's clientset (a fake one in
// tests) and commands in containers through exec (run locally in tests).
type cluster struct {
	*kube.Client
	exec func(namespace, pod, container string) transport.Execer
}

// dial connects the way kubectl does, with exec through the API server.
func dial(c connection) (*cluster, error) {
	client, err := c.connect()
	if err != nil {
		return nil, err
	}
	return &cluster{Client: client, exec: func(namespace, pod, container string) transport.Execer {
		return client.NewContainerExec(namespace, pod, container)
	}}, nil
}

// in is the cluster with namespace as the session's, sharing the connection; "" keeps the
// kubeconfig's. (Entries of a project may live in different namespaces of one cluster.)
func (c *cluster) in(namespace string) *cluster {
	if namespace == "" || namespace == c.Namespace {
		return c
	}
	client := *c.Client
	client.Namespace = namespace
	return &cluster{Client: &client, exec: c.exec}
}

// exitGuard knows which workloads this process has changed and not yet restored, so that a user who
// insists on quitting at once (a third signal) is told exactly how to undo them.
type exitGuard struct {
	mu      sync.Mutex
	pending map[string]string // by "namespace/kind/name": the command that restores it
}

type guardKey struct{}

func withGuard(ctx context.Context, g *exitGuard) context.Context {
	return context.WithValue(ctx, guardKey{}, g)
}

// guardOf returns the context's guard; a context without one gets a guard nobody reads.
func guardOf(ctx context.Context) *exitGuard {
	if g, ok := ctx.Value(guardKey{}).(*exitGuard); ok {
		return g
	}
	return &exitGuard{}
}

// changing records that the workload is about to be changed; done undoes that once it is restored.
func (g *exitGuard) changing(namespace string, workload kube.Ref) (done func()) {
	key := namespace + "/" + workload.String()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pending == nil {
		g.pending = map[string]string{}
	}
	g.pending[key] = restoreCommand(namespace, workload)
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		delete(g.pending, key)
	}
}

// restoreCommand is the command line that undoes kindling's change to a workload.
func restoreCommand(namespace string, workload kube.Ref) string {
	return fmt.Sprintf("kindling restore -d %s -n %s", workload.Arg(), namespace)
}

// commands returns the restore command of every workload still changed, sorted.
func (g *exitGuard) commands() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var cmds []string
	for _, c := range g.pending {
		cmds = append(cmds, c)
	}
	sort.Strings(cmds)
	return cmds
}

// onSignals turns signals into a clean stop: the first cancels the session (which then restores what it
// changed), the second says that the restore is under way, the third quits at once after naming the
// command that undoes what is left. quit is os.Exit outside tests.
func onSignals(signals <-chan struct{}, cancel context.CancelFunc, g *exitGuard, out io.Writer, quit func(int)) {
	n := 0
	for range signals {
		n++
		switch n {
		case 1:
			cancel()
		case 2:
			if len(g.commands()) > 0 {
				fmt.Fprintln(out, "kindling: restoring what kindling changed before exiting (a few seconds); interrupt again to quit at once without it")
			}
		default:
			if cmds := g.commands(); len(cmds) > 0 {
				fmt.Fprintf(out, "kindling: quitting without restoring; run `%s` to undo kindling's changes\n", strings.Join(cmds, "` and `"))
			}
			quit(130)
		}
	}
}
