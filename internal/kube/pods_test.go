package kube

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// A pod list the API server refuses is an error naming the verb and the fix, at once: the informer's
// reflector would otherwise retry it forever in silence, and kindling hang.
func TestWatchPodsRefusedIsAnErrorNotAHang(t *testing.T) {
	cs := fake.NewClientset()
	cs.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", nil)
	})
	c := &Client{Clientset: cs, Namespace: "ns"}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.WatchPods(ctx, NewWorkload(d), "app")
	if err == nil || ctx.Err() != nil {
		t.Fatalf("WatchPods = %v after %v; want the refusal at once", err, time.Since(start))
	}
	if !strings.Contains(err.Error(), "pods") || !strings.Contains(err.Error(), "deploy/rbac.yaml") {
		t.Errorf("the refusal does not name the resource and the fix: %v", err)
	}
}

// The current revision is read once with the pod list, and again only after the pods changed: a save, or
// the second look at the pods a start takes, costs no request (a round trip to a remote cluster).
func TestRunnableReadsTheRevisionAgainOnlyAfterPodsChanged(t *testing.T) {
	labels := map[string]string{"app": "web"}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "d1"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}}}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-abc", Namespace: "ns",
		Labels:          map[string]string{"app": "web", appsv1.DefaultDeploymentUniqueLabelKey: "abc"},
		Annotations:     map[string]string{"deployment.kubernetes.io/revision": "1"},
		OwnerReferences: []metav1.OwnerReference{{UID: "d1", Controller: ptrTrue()}}}}
	pod := func(name string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(name),
			Labels: map[string]string{"app": "web", appsv1.DefaultDeploymentUniqueLabelKey: "abc"}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
				{Name: "app", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}}
	}
	cs := fake.NewClientset(d, rs, pod("web-1"))
	lists := func() int {
		n := 0
		for _, a := range cs.Actions() {
			if a.GetVerb() == "list" && a.GetResource().Resource == "replicasets" {
				n++
			}
		}
		return n
	}
	c := &Client{Clientset: cs, Namespace: "ns"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := c.WatchPods(ctx, NewWorkload(d), "app")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		pods, err := w.Runnable(ctx)
		if err != nil || len(pods) != 1 {
			t.Fatalf("Runnable = %d pods, %v; want web-1", len(pods), err)
		}
	}
	if n := lists(); n != 1 {
		t.Errorf("ReplicaSets listed %d times for a start and two more looks at unchanged pods, want once", n)
	}
	if _, err := cs.CoreV1().Pods("ns").Create(ctx, pod("web-2"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for pods, _ := w.Runnable(ctx); len(pods) != 2; pods, _ = w.Runnable(ctx) {
		if time.Now().After(deadline) {
			t.Fatalf("the new pod never showed: %d pods", len(pods))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := lists(); n < 2 {
		t.Errorf("ReplicaSets listed %d times after a pod changed, want again", n)
	}
}

func ptrTrue() *bool { b := true; return &b }
