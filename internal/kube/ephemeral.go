package kube

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RunBeside runs script with sh in an ephemeral container of image that shares the process namespace of the
// pod's container, and returns what it printed: how kindling reads the process table of a container that
// has no shell of its own. An ephemeral container cannot be removed, so it is only used in a pod that
// --restart's rollout is about to replace; it runs as nobody, which the `restricted` Pod Security level
// admits and which may read any process's command line.
func (c *Client) RunBeside(ctx context.Context, pod *corev1.Pod, container, image, script string) ([]byte, error) {
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := "kindling-ps-" + hex.EncodeToString(suffix)
	ec := corev1.EphemeralContainer{
		TargetContainerName: container,
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: name, Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
			Command:         Literal("/bin/busybox", "sh", "-c", script),
			SecurityContext: NobodyContext(),
		},
	}
	pods := c.Clientset.CoreV1().Pods(pod.Namespace)
	// The pod changes under kindling (the kubelet writes its status): a conflict is answered by reading it
	// again and adding the container to what it is now.
	current := pod
	for attempt := 1; ; attempt++ {
		p := current.DeepCopy()
		p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, ec)
		_, err := pods.UpdateEphemeralContainers(ctx, pod.Name, p, metav1.UpdateOptions{})
		if err == nil {
			break
		}
		if !apierrors.IsConflict(err) || attempt == 5 {
			return nil, Explain(err, "update pods/ephemeralcontainers", pod.Namespace)
		}
		if current, err = c.podNamed(ctx, pod); err != nil {
			return nil, err
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got, err := c.podNamed(ctx, pod)
		if err != nil {
			return nil, err
		}
		for _, s := range got.Status.EphemeralContainerStatuses {
			if s.Name != name {
				continue
			}
			if w := s.State.Waiting; w != nil && (w.Reason == "ErrImagePull" || w.Reason == "ImagePullBackOff" || w.Reason == "InvalidImageName") {
				return nil, fmt.Errorf("pod/%s cannot pull the helper image %s (%s): mirror it into a registry the cluster reaches and pass --helper-image", pod.Name, image, w.Reason)
			}
			if s.State.Terminated != nil {
				return pods.GetLogs(pod.Name, &corev1.PodLogOptions{Container: name}).DoRaw(ctx)
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("pod/%s: the helper container %s (image %s) did not run within 2m", pod.Name, name, image)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// podNamed reads the pod again. (With list, not get: the pods are what kindling may list and watch.)
func (c *Client) podNamed(ctx context.Context, pod *corev1.Pod) (*corev1.Pod, error) {
	list, err := c.Clientset.CoreV1().Pods(pod.Namespace).List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + pod.Name})
	if err != nil {
		return nil, Explain(err, "list pods", pod.Namespace)
	}
	if len(list.Items) == 0 {
		return nil, fmt.Errorf("pod/%s went away while kindling read its processes; run kindling again", pod.Name)
	}
	return &list.Items[0], nil
}

// NobodyContext is the security context of kindling's own helper containers: user nobody, no privilege, as
// the `restricted` Pod Security level requires. Their work needs no more: copy a file into an emptyDir
// (any user may write one), read command lines in /proc.
func NobodyContext() *corev1.SecurityContext {
	nobody, no, yes := int64(65534), false, true
	return &corev1.SecurityContext{
		RunAsUser: &nobody, RunAsGroup: &nobody, RunAsNonRoot: &yes,
		AllowPrivilegeEscalation: &no,
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// Literal is argv for a container's command that the kubelet runs as it is: it expands $(VAR) and turns $$
// into $ in a command, so every $ is doubled.
func Literal(argv ...string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = strings.ReplaceAll(a, "$", "$$")
	}
	return out
}
