package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kindling-dev/kindling/internal/kube"
)

// statefulSetCluster is newFakeCluster's Deployment as a StatefulSet, its pod of the current revision.
func statefulSetCluster(strategy appsv1.StatefulSetUpdateStrategyType) *fakeCluster {
	f := newFakeCluster()
	d, _ := f.clientset.AppsV1().Deployments("ns").Get(context.Background(), "web", metav1.GetOptions{})
	pod, _ := f.clientset.CoreV1().Pods("ns").Get(context.Background(), "web-1", metav1.GetOptions{})
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "s-uid", Annotations: map[string]string{"team": "x"}},
		Spec: appsv1.StatefulSetSpec{Selector: d.Spec.Selector, Template: d.Spec.Template, ServiceName: "web",
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: strategy}},
		Status: appsv1.StatefulSetStatus{UpdateRevision: "web-abc"}}
	pod.Labels[appsv1.StatefulSetRevisionLabel] = "web-abc"
	f.clientset = fake.NewClientset(sts, pod)
	return f
}

func statefulSetState(t *testing.T, f *fakeCluster) string {
	t.Helper()
	w, err := kube.GetWorkload(context.Background(), f.clientset, "ns", kube.Ref{Kind: kube.StatefulSet, Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"template": w.Template(), "annotations": w.Meta().Annotations})
	return string(b)
}

// A --restart session on a StatefulSet wraps it, syncs, and leaves it exactly as it was when stopped.
func TestAStatefulSetSessionLeavesItExact(t *testing.T) {
	f := statefulSetCluster(appsv1.RollingUpdateStatefulSetStrategyType)
	before := statefulSetState(t, f)
	o := syncOpts(t, false)
	o.deployment = "sts/web"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncOut{}
	done := make(chan error, 1)
	go func() { done <- runOne(ctx, out, o, f.connect) }()
	err := waitOrInterrupt(t, done, cancel, out)
	if !strings.Contains(out.String(), "→ statefulset/web (container app)") || !strings.Contains(out.String(), "restored statefulset/web to its original pod template") {
		t.Fatalf("the session did not sync and restore the StatefulSet (err %v):\n%s", err, out)
	}
	if got := statefulSetState(t, f); got != before {
		t.Fatalf("the StatefulSet after the session\n got %s\nwant %s", got, before)
	}
}

// A StatefulSet that never rolls its pods (OnDelete) is refused with --restart, naming the fix, and
// left alone; without --restart it is synced.
func TestAnOnDeleteStatefulSetRefusesRestart(t *testing.T) {
	f := statefulSetCluster(appsv1.OnDeleteStatefulSetStrategyType)
	before := statefulSetState(t, f)
	o := syncOpts(t, true)
	o.deployment = "statefulset/web"
	err := runOne(context.Background(), &syncOut{}, o, f.connect)
	if err == nil || !strings.Contains(err.Error(), "statefulset/web has updateStrategy OnDelete") || !strings.Contains(err.Error(), "RollingUpdate") {
		t.Fatalf("err = %v; want the refusal naming the fix", err)
	}
	if got := statefulSetState(t, f); got != before {
		t.Fatalf("the refused session changed the StatefulSet:\n got %s\nwant %s", got, before)
	}
	o.restart = false
	out := &syncOut{}
	if err := runOne(context.Background(), out, o, f.connect); err != nil {
		t.Fatalf("a plain --once sync of it: %v\n%s", err, out)
	}
}
