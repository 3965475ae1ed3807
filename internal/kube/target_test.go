package kube

import (
	"context"
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func deployment(name string, containers ...string) *appsv1.Deployment {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "dev", UID: "uid-" + "name"}}
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
	for _, c := range containers {
		d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, corev1.Container{Name: c})
	}
	return d
}

func fakeClient(objs ...runtime.Object) *Client {
	return &Client{Clientset: fake.NewSimpleClientset(objs...), Namespace: "dev"}
}

func TestGetDeploymentNotFoundSuggestsNames(t *testing.T) {
	tests := []struct {
		name  string
		objs  []runtime.Object
		query string
		want  string
	}{
		{"typo", []runtime.Object{deployment("orders-api"), deployment("gateway")}, "order-api", `did you mean: orders-api?`},
		{"prefix", []runtime.Object{deployment("orders-api"), deployment("gateway")}, "orders", `did you mean: orders-api?`},
		{"nothing close", []runtime.Object{deployment("orders-api"), deployment("gateway")}, "frontend", "deployments there: gateway, orders-api"},
		{"empty namespace", nil, "web", "it has no deployments; pick another with -n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fakeClient(tt.objs...).GetWorkload(context.Background(), Ref{Kind: Deployment, Name: tt.query})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `"`+tt.query+`" not found in namespace "dev"`) {
				t.Fatalf("err = %v, want it to name the deployment, the namespace and %q", err, tt.want)
			}
		})
	}
}

func TestForbiddenNamesTheMissingVerb(t *testing.T) {
	c := fakeClient()
	c.Clientset.(*fake.Clientset).PrependReactor("get", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "web", errors.New("no"))
	})
	_, err := c.GetWorkload(context.Background(), Ref{Kind: Deployment, Name: "web"})
	if err == nil || !strings.Contains(err.Error(), "may not get deployments in namespace \"dev\"") {
		t.Fatalf("err = %v", err)
	}
}

func TestContainerName(t *testing.T) {
	tests := []struct {
		name       string
		containers []string
		want, got  string
		err        string
	}{
		{"only one", []string{"app"}, "", "app", ""},
		{"named", []string{"app", "sidecar"}, "sidecar", "sidecar", ""},
		{"ambiguous", []string{"app", "sidecar"}, "", "", "has 2 containers (app, sidecar); pick one with --container"},
		{"unknown", []string{"app", "sidecar"}, "web", "", `has no container "web"; its containers are: app, sidecar`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ContainerName(NewWorkload(deployment("d", tt.containers...)), tt.want)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.got {
				t.Fatalf("got %q, %v; want %q", got, err, tt.got)
			}
		})
	}
}

func replicaSet(d *appsv1.Deployment, hash, revision string) *appsv1.ReplicaSet {
	yes := true
	return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{
		Name: d.Name + "-" + hash, Namespace: d.Namespace,
		Labels:          map[string]string{"app": d.Name, appsv1.DefaultDeploymentUniqueLabelKey: hash},
		Annotations:     map[string]string{"deployment.kubernetes.io/revision": revision},
		OwnerReferences: []metav1.OwnerReference{{UID: d.UID, Controller: &yes, Kind: "Deployment", Name: d.Name}},
	}}
}

func TestCurrentRevisionOfADeploymentIsItsNewestReplicaSet(t *testing.T) {
	d := deployment("web", "app")
	c := fakeClient(d, replicaSet(d, "old", "9"), replicaSet(d, "new", "10"))
	label, got, err := c.CurrentRevision(context.Background(), NewWorkload(d))
	if err != nil || got != "new" || label != appsv1.DefaultDeploymentUniqueLabelKey {
		t.Fatalf("got %q, %v; want the revision 10 hash (numeric, not lexical, order)", got, err)
	}
}

func pod(name, phase string, running bool, waiting string) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.PodStatus{Phase: corev1.PodPhase(phase)}}
	s := corev1.ContainerStatus{Name: "app", ContainerID: "containerd://" + name, RestartCount: 2}
	if running {
		s.State.Running = &corev1.ContainerStateRunning{}
	}
	if waiting != "" {
		s.State.Waiting = &corev1.ContainerStateWaiting{Reason: waiting}
	}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{s}
	return p
}

func TestRunnableAndDescribe(t *testing.T) {
	running := pod("a", "Running", true, "")
	crashing := pod("b", "Running", false, "CrashLoopBackOff")
	pending := pod("c", "Pending", false, "")
	terminating := pod("d", "Running", true, "")
	now := metav1.Now()
	terminating.DeletionTimestamp = &now
	if !Runnable(&running, "app") || Runnable(&crashing, "app") || Runnable(&pending, "app") || Runnable(&terminating, "app") {
		t.Fatal("Runnable picked the wrong pods")
	}
	if got := DescribeNotRunning([]corev1.Pod{crashing, pending, terminating}, "app"); got != "b: CrashLoopBackOff, c: Pending, d: Terminating" {
		t.Fatalf("DescribeNotRunning = %q", got)
	}
	if got := DescribeNotRunning(nil, "app"); !strings.Contains(got, "no pods") {
		t.Fatalf("DescribeNotRunning(nil) = %q", got)
	}
	if ContainerStart(&running, "app") == ContainerStart(&crashing, "app") {
		t.Fatal("two containers share a start identity")
	}
}
