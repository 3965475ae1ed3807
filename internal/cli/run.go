package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/kindling-dev/kindling/internal/clock"
	"github.com/kindling-dev/kindling/internal/engine"
	"github.com/kindling-dev/kindling/internal/ignore"
	"github.com/kindling-dev/kindling/internal/kube"
	"github.com/kindling-dev/kindling/internal/transport"
	"github.com/kindling-dev/kindling/internal/watch"
)

// firstPodTimeout bounds how long --once waits for a pod that is still starting.
const firstPodTimeout = 2 * time.Minute

func runSync(ctx context.Context, out io.Writer, o syncOptions) error {
	matcher, err := ignore.New(o.src, o.excludes)
	if err != nil {
		return usageError{err}
	}
	client, err := kube.Connect(o.kubeconfig, o.context, o.namespace)
	if err != nil {
		return err
	}
	d, err := client.GetDeployment(ctx, o.deployment)
	if err != nil {
		return err
	}
	container, err := kube.ContainerName(d, o.container)
	if err != nil {
		return usageError{err}
	}
	var changes <-chan string
	if !o.once && !o.dryRun {
		// The watcher starts before the initial scan so that a save during the scan is not lost.
		w, err := watch.New(o.src, matcher.Excluded)
		if err != nil {
			return err
		}
		defer w.Close()
		changes = w.Changes()
		go func() {
			for err := range w.Errors() {
				fmt.Fprintf(out, "kindling: watcher: %v\n", err)
			}
		}()
	}
	pods, err := client.WatchPods(ctx, d, container)
	if err != nil {
		return err
	}
	targets := &podTargets{client: client, pods: pods, container: container}
	if err := waitForPod(ctx, out, targets, o.once); err != nil {
		return err
	}
	if o.dryRun {
		return dryRun(ctx, out, o, d, targets, matcher)
	}
	warn := func(line string) { fmt.Fprintln(out, "kindling: "+line) }
	session := engine.New(engine.Config{
		Local:   &engine.Dir{Src: o.src, Excluded: matcher.Excluded},
		Dest:    o.dest,
		Targets: targets,
		// Excluded paths are left out of the container's manifest too, so they are never deleted there
		// (an image's own node_modules stays).
		NewTransport: func(e transport.Execer) transport.Transport {
			return transport.NewShell(e, transport.Excluding(matcher.Excluded), transport.Warn(warn))
		},
		Out:   out,
		Clock: clock.Real{},
	})
	fmt.Fprintf(out, "kindling: syncing %s → deployment/%s (container %s) %s in namespace %s\n", o.src, d.Name, container, o.dest, client.Namespace)
	if o.once {
		return session.Once(ctx)
	}
	debouncer := watch.NewDebouncer(clock.Real{}, o.debounce, watch.MaxWait(o.debounce), changes)
	defer debouncer.Stop()
	err = session.Watch(ctx, debouncer.Batches())
	fmt.Fprintln(out, "kindling: stopped")
	return err
}

// waitForPod waits until the Deployment has a pod to sync into. In watch mode it only says what it is
// waiting for; with --once it gives up after firstPodTimeout, naming what the pods are doing.
func waitForPod(ctx context.Context, out io.Writer, t *podTargets, once bool) error {
	deadline := time.After(firstPodTimeout)
	said := ""
	for {
		current, err := t.Current(ctx)
		if err != nil {
			return err
		}
		if len(current) > 0 {
			return nil
		}
		state := kube.DescribeNotRunning(t.pods.Pods(), t.container)
		if !once {
			if state != said {
				fmt.Fprintf(out, "kindling: waiting for a running pod of deployment/%s (%s)\n", t.pods.Deployment(), state)
				said = state
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return fmt.Errorf("deployment/%s has no running pod after %s: %s", t.pods.Deployment(), firstPodTimeout, state)
		case <-t.pods.Changed():
		}
	}
}

// podTargets adapts the pod watch to the engine's Targets.
type podTargets struct {
	client    *kube.Client
	pods      *kube.PodWatch
	container string
}

func (t *podTargets) Changed() <-chan struct{} { return t.pods.Changed() }

func (t *podTargets) Current(ctx context.Context) ([]engine.Container, error) {
	pods, err := t.pods.Runnable(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]engine.Container, 0, len(pods))
	for _, p := range pods {
		out = append(out, engine.Container{
			ID:   string(p.UID) + "/" + kube.ContainerStart(&p, t.container),
			Exec: t.client.NewContainerExec(p.Namespace, p.Name, t.container),
		})
	}
	return out, nil
}
