package kube

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
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
