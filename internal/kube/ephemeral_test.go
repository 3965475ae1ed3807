package kube

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// RunBeside adds its container again when the pod changed under it (a conflict), then waits for it to end
// and returns its log.
func TestRunBesideRetriesAConflict(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "ns"}}
	cs := fake.NewClientset(pod)
	updates, added := 0, ""
	cs.PrependReactor("update", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "ephemeralcontainers" {
			return false, nil, nil
		}
		updates++
		if updates == 1 {
			return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "pods"}, "web-1", nil)
		}
		p := a.(k8stesting.UpdateAction).GetObject().(*corev1.Pod)
		ec := p.Spec.EphemeralContainers
		if len(ec) != 1 || ec[0].TargetContainerName != "app" || ec[0].Command[3] != "echo $$HOME" {
			t.Errorf("ephemeral containers %+v: want one, beside app, with its command literal", ec)
		}
		added = ec[0].Name
		return true, p, nil
	})
	cs.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		p := pod.DeepCopy()
		if added != "" {
			p.Status.EphemeralContainerStatuses = []corev1.ContainerStatus{{Name: added,
				State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}}}
		}
		return true, &corev1.PodList{Items: []corev1.Pod{*p}}, nil
	})
	c := &Client{Clientset: cs, Namespace: "ns"}
	out, err := c.RunBeside(context.Background(), pod, "app", "helper", "echo $HOME")
	if err != nil {
		t.Fatal(err)
	}
	if updates != 2 || string(out) != "fake logs" {
		t.Fatalf("%d updates, output %q: want the conflict retried once and the container's log", updates, out)
	}
}
