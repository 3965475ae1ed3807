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
	"k8s.io/apimachinery/pkg/labels"
)

// GetDeployment fetches the target Deployment; when it does not exist the error lists similar names.
func (c *Client) GetDeployment(ctx context.Context, name string) (*appsv1.Deployment, error) {
	d, err := c.Clientset.AppsV1().Deployments(c.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, c.notFound(ctx, name)
	}
	if err != nil {
		return nil, Explain(err, "get deployments", c.Namespace)
	}
	return d, nil
}

func (c *Client) notFound(ctx context.Context, name string) error {
	list, err := c.Clientset.AppsV1().Deployments(c.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) == 0 {
		return fmt.Errorf("deployment %q not found in namespace %q (it has no deployments; pick another with -n)", name, c.Namespace)
	}
	var names []string
	for _, d := range list.Items {
		names = append(names, d.Name)
	}
	return fmt.Errorf("deployment %q not found in namespace %q; %s", name, c.Namespace, suggest(name, names))
}

// suggest names the closest candidates, or all of them when none is close.
func suggest(name string, candidates []string) string {
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
	return "deployments there: " + strings.Join(candidates, ", ")
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
func ContainerName(d *appsv1.Deployment, want string) (string, error) {
	var names []string
	for _, c := range d.Spec.Template.Spec.Containers {
		names = append(names, c.Name)
		if c.Name == want {
			return want, nil
		}
	}
	if want != "" {
		return "", fmt.Errorf("deployment %q has no container %q; its containers are: %s", d.Name, want, strings.Join(names, ", "))
	}
	if len(names) == 1 {
		return names[0], nil
	}
	return "", fmt.Errorf("deployment %q has %d containers (%s); pick one with --container", d.Name, len(names), strings.Join(names, ", "))
}

// Selector is the Deployment's own pod selector.
func Selector(d *appsv1.Deployment) (labels.Selector, error) {
	s, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("deployment %q has an invalid selector: %v", d.Name, err)
	}
	return s, nil
}

// CurrentTemplateHash returns the pod-template-hash of the Deployment's newest ReplicaSet, the revision
// whose pods should get the sync.
func (c *Client) CurrentTemplateHash(ctx context.Context, d *appsv1.Deployment) (string, error) {
	sel, err := Selector(d)
	if err != nil {
		return "", err
	}
	list, err := c.Clientset.AppsV1().ReplicaSets(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return "", Explain(err, "list replicasets", d.Namespace)
	}
	best, bestRev := "", -1
	for _, rs := range list.Items {
		if !metav1.IsControlledBy(&rs, d) {
			continue
		}
		rev, _ := strconv.Atoi(rs.Annotations["deployment.kubernetes.io/revision"])
		if rev > bestRev {
			best, bestRev = rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey], rev
		}
	}
	return best, nil
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

// WaitObserved waits until the Deployment controller has seen the Deployment's latest change (and so
// created the ReplicaSet of its new template).
func (c *Client) WaitObserved(ctx context.Context, name string) error {
	for {
		d, err := c.Clientset.AppsV1().Deployments(c.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return Explain(err, "get deployments", c.Namespace)
		}
		if d.Status.ObservedGeneration >= d.Generation {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
