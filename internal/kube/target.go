package kube

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// GetWorkload fetches the target workload; when it does not exist the error lists similar names.
func (c *Client) GetWorkload(ctx context.Context, ref Ref) (*Workload, error) {
	w, err := GetWorkload(ctx, c.Clientset, c.Namespace, ref)
	if apierrors.IsNotFound(err) {
		return nil, c.notFound(ctx, ref)
	}
	if err != nil {
		return nil, Explain(err, "get "+ref.Kind.plural(), c.Namespace)
	}
	return w, nil
}

func (c *Client) notFound(ctx context.Context, ref Ref) error {
	names, err := c.names(ctx, ref.Kind)
	if err != nil || len(names) == 0 {
		return fmt.Errorf("%s %q not found in namespace %q (it has no %s; pick another with -n)", ref.Kind, ref.Name, c.Namespace, ref.Kind.plural())
	}
	return fmt.Errorf("%s %q not found in namespace %q; %s", ref.Kind, ref.Name, c.Namespace, suggest(ref.Name, names, ref.Kind.plural()))
}

// suggest names the closest candidates, or all of them when none is close.
func suggest(name string, candidates []string, plural string) string {
	var close []string
	for _, c := range candidates {
		if strings.Contains(c, name) || strings.Contains(name, c) || editDistance(c, name) <= 3 {
			close = append(close, c)
		}
	}
	if len(close) > 0 {
		return "did you mean: " + strings.Join(close, ", ") + "?"
	}
	sort.Strings(candidates)
	if len(candidates) > 10 {
		candidates = append(candidates[:10], "…")
	}
	return plural + " there: " + strings.Join(candidates, ", ")
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// ContainerName picks the container to sync into: the named one, else the only one.
func ContainerName(w *Workload, want string) (string, error) {
	var names []string
	for _, c := range w.Template().Spec.Containers {
		names = append(names, c.Name)
		if c.Name == want {
			return want, nil
		}
	}
	if want != "" {
		return "", fmt.Errorf("%s %q has no container %q; its containers are: %s", w.Kind, w.Name, want, strings.Join(names, ", "))
	}
	if len(names) == 1 {
		return names[0], nil
	}
	return "", fmt.Errorf("%s %q has %d containers (%s); pick one with --container", w.Kind, w.Name, len(names), strings.Join(names, ", "))
}

// CurrentRevision returns the pod label, and its value, that mark the pods running the workload's
// current template; value is "" while the controller has made no revision yet. A Deployment's is the
// pod-template-hash of its newest ReplicaSet; a StatefulSet's, its status.updateRevision; a
// DaemonSet's, the hash of its newest ControllerRevision (a DaemonSet's status names none).
func (c *Client) CurrentRevision(ctx context.Context, w *Workload) (label, value string, err error) {
	ns := w.Meta().Namespace
	switch w.Kind {
	case StatefulSet:
		// Read again: the revision changes with a rollout, after w was read.
		obj, err := resourceOf(c.Clientset, ns, StatefulSet).get(ctx, w.Name)
		if err != nil {
			return "", "", Explain(err, "get statefulsets", ns)
		}
		return appsv1.StatefulSetRevisionLabel, obj.(*appsv1.StatefulSet).Status.UpdateRevision, nil
	case DaemonSet:
		sel, err := w.Selector()
		if err != nil {
			return "", "", err
		}
		list, err := c.Clientset.AppsV1().ControllerRevisions(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			return "", "", Explain(err, "list controllerrevisions", ns)
		}
		newest := newestOwned(w, list.Items, func(cr *appsv1.ControllerRevision) int64 { return cr.Revision })
		if newest == nil {
			return appsv1.DefaultDaemonSetUniqueLabelKey, "", nil
		}
		return appsv1.DefaultDaemonSetUniqueLabelKey, newest.Labels[appsv1.DefaultDaemonSetUniqueLabelKey], nil
	}
	newest, err := c.newestReplicaSet(ctx, w)
	if err != nil {
		return "", "", err
	}
	if newest == nil {
		return appsv1.DefaultDeploymentUniqueLabelKey, "", nil
	}
	return appsv1.DefaultDeploymentUniqueLabelKey, newest.Labels[appsv1.DefaultDeploymentUniqueLabelKey], nil
}

// newestOwned returns the item of the highest revision that w controls, nil if none.
func newestOwned[T any, P interface {
	*T
	metav1.Object
}](w *Workload, items []T, revision func(P) int64) P {
	var best P
	bestRev := int64(-1)
	for i := range items {
		item := P(&items[i])
		if !metav1.IsControlledBy(item, w.Meta()) {
			continue
		}
		if rev := revision(item); rev > bestRev {
			best, bestRev = item, rev
		}
	}
	return best
}

// newestReplicaSet is the ReplicaSet of a Deployment's newest template, nil before the controller made it.
func (c *Client) newestReplicaSet(ctx context.Context, w *Workload) (*appsv1.ReplicaSet, error) {
	ns := w.Meta().Namespace
	sel, err := w.Selector()
	if err != nil {
		return nil, err
	}
	list, err := c.Clientset.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, Explain(err, "list replicasets", ns)
	}
	return newestOwned(w, list.Items, func(rs *appsv1.ReplicaSet) int64 {
		rev, _ := strconv.ParseInt(rs.Annotations["deployment.kubernetes.io/revision"], 10, 64)
		return rev
	}), nil
}

// Runnable reports whether the pod is one to sync into: running, not being deleted, and with the named
// container started.
func Runnable(p *corev1.Pod, container string) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, s := range p.Status.ContainerStatuses {
		if s.Name == container {
			return s.State.Running != nil
		}
	}
	return false
}

// ContainerStart identifies one run of a container: it changes when the container restarts (and its
// filesystem is reset), so the pod needs a full sync again.
func ContainerStart(p *corev1.Pod, container string) string {
	for _, s := range p.Status.ContainerStatuses {
		if s.Name == container {
			return s.ContainerID + "#" + strconv.Itoa(int(s.RestartCount))
		}
	}
	return ""
}

// DescribeNotRunning says what pods are doing instead of running, e.g. "web-1: CrashLoopBackOff".
func DescribeNotRunning(pods []corev1.Pod, container string) string {
	if len(pods) == 0 {
		return "it has no pods (scaled to 0? try kubectl scale --replicas=1)"
	}
	var parts []string
	for _, p := range pods {
		state := string(p.Status.Phase)
		if p.DeletionTimestamp != nil {
			state = "Terminating"
		}
		for _, s := range p.Status.ContainerStatuses {
			if s.Name == container && s.State.Waiting != nil && s.State.Waiting.Reason != "" {
				state = s.State.Waiting.Reason
			}
		}
		parts = append(parts, p.Name+": "+state)
	}
	return strings.Join(parts, ", ")
}

// NodePlatform returns the operating system and architecture of the node a pod runs on, in Go's terms
// (linux, amd64): what a local build must target.
func (c *Client) NodePlatform(ctx context.Context, pod *corev1.Pod) (os, arch string, err error) {
	n, err := c.Clientset.CoreV1().Nodes().Get(ctx, pod.Spec.NodeName, metav1.GetOptions{})
	if err != nil {
		return "", "", Explain(err, "get nodes", "")
	}
	return n.Status.NodeInfo.OperatingSystem, n.Status.NodeInfo.Architecture, nil
}

// WaitObserved waits until the workload's controller has seen its latest change (and so made the
// revision of its new template).
func (c *Client) WaitObserved(ctx context.Context, ref Ref) error {
	for {
		w, err := GetWorkload(ctx, c.Clientset, c.Namespace, ref)
		if err != nil {
			return Explain(err, "get "+ref.Kind.plural(), c.Namespace)
		}
		if w.Observed() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
