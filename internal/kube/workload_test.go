package kube

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

func TestParseRef(t *testing.T) {
	tests := []struct {
		in   string
		want Ref
		err  string
	}{
		{in: "web", want: Ref{Deployment, "web"}},
		{in: "deployment/web", want: Ref{Deployment, "web"}},
		{in: "deploy/web", want: Ref{Deployment, "web"}},
		{in: "deployments.apps/web", want: Ref{Deployment, "web"}},
		{in: "statefulset/db", want: Ref{StatefulSet, "db"}},
		{in: "statefulsets/db", want: Ref{StatefulSet, "db"}},
		{in: "sts/db", want: Ref{StatefulSet, "db"}},
		{in: "StatefulSet/db", want: Ref{StatefulSet, "db"}},
		{in: "daemonset/agent", want: Ref{DaemonSet, "agent"}},
		{in: "ds/agent", want: Ref{DaemonSet, "agent"}},
		{in: "pod/web-0", err: "not a pod"},
		{in: "sts/", err: "is not a workload name"},
		{in: "sts/a/b", err: "is not a workload name"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRef(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseRef(%q) = %v, %v; want an error with %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseRef(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			// What kindling prints as -d parses back to the same workload.
			if again, err := ParseRef(got.Arg()); err != nil || again != got {
				t.Fatalf("ParseRef(%q.Arg() = %q) = %v, %v", tt.in, got.Arg(), again, err)
			}
		})
	}
	if got := (Ref{Deployment, "web"}).Arg(); got != "web" {
		t.Errorf("a Deployment's -d is its bare name, got %q", got)
	}
}

var controller = true

func owned(obj metav1.Object, kind string) []metav1.OwnerReference {
	return []metav1.OwnerReference{{UID: obj.GetUID(), Controller: &controller, Kind: kind, Name: obj.GetName()}}
}

func statefulSet(name, updateRevision string) *appsv1.StatefulSet {
	s := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "dev", UID: types.UID("uid-" + name)}}
	s.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
	s.Spec.Template.Spec.Containers = []corev1.Container{{Name: "app"}}
	s.Status.UpdateRevision = updateRevision
	return s
}

func daemonSet(name string) *appsv1.DaemonSet {
	d := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "dev", UID: types.UID("uid-" + name)}}
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "app"}}
	return d
}

func controllerRevision(ds *appsv1.DaemonSet, hash string, revision int64) *appsv1.ControllerRevision {
	return &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{
		Name: ds.Name + "-" + hash, Namespace: ds.Namespace, OwnerReferences: owned(ds, "DaemonSet"),
		Labels: map[string]string{"app": ds.Name, appsv1.DefaultDaemonSetUniqueLabelKey: hash},
	}, Revision: revision}
}

// revisionPod is a running pod of workload app carrying the revision label.
func revisionPod(app, name, label, value string) *corev1.Pod {
	p := pod(name, "Running", true, "")
	p.Namespace = "dev"
	p.Labels = map[string]string{"app": app, label: value}
	return &p
}

// TestRunnableIsTheCurrentRevisionPerKind: only pods of the workload's current revision are synced,
// whatever the kind, and a new-revision pod is synced while older ones still run (a StatefulSet replaces
// its pods one at a time, from the highest ordinal).
func TestRunnableIsTheCurrentRevisionPerKind(t *testing.T) {
	d := deployment("web", "app")
	sts := statefulSet("db", "db-new")
	ds := daemonSet("agent")
	stray := controllerRevision(daemonSet("other"), "zzz", 99) // not the DaemonSet's own
	stray.Labels["app"] = "agent"
	tests := []struct {
		name     string
		workload runtime.Object
		objs     []runtime.Object
		want     []string
	}{
		{"deployment", d, []runtime.Object{replicaSet(d, "old", "1"), replicaSet(d, "new", "2"),
			revisionPod("web", "web-a", appsv1.DefaultDeploymentUniqueLabelKey, "old"),
			revisionPod("web", "web-b", appsv1.DefaultDeploymentUniqueLabelKey, "new")}, []string{"web-b"}},
		{"statefulset mid-rollout", sts, []runtime.Object{
			revisionPod("db", "db-0", appsv1.StatefulSetRevisionLabel, "db-old"),
			revisionPod("db", "db-1", appsv1.StatefulSetRevisionLabel, "db-new")}, []string{"db-1"}},
		{"daemonset", ds, []runtime.Object{controllerRevision(ds, "aaa", 1), controllerRevision(ds, "bbb", 2), stray,
			revisionPod("agent", "agent-x", appsv1.DefaultDaemonSetUniqueLabelKey, "aaa"),
			revisionPod("agent", "agent-y", appsv1.DefaultDaemonSetUniqueLabelKey, "bbb")}, []string{"agent-y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fakeClient(append(tt.objs, tt.workload)...)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			w, err := c.WatchPods(ctx, NewWorkload(tt.workload), "app")
			if err != nil {
				t.Fatal(err)
			}
			pods, err := w.Runnable(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range pods {
				got = append(got, p.Name)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Runnable = %v, want %v (the current revision's pods only)", got, tt.want)
			}
		})
	}
}

func TestGetWorkloadNotFoundNamesTheKind(t *testing.T) {
	c := fakeClient(statefulSet("postgres", ""), deployment("db"))
	_, err := c.GetWorkload(context.Background(), Ref{StatefulSet, "postgre"})
	if err == nil || err.Error() != `statefulset "postgre" not found in namespace "dev"; did you mean: postgres?` {
		t.Fatalf("err = %v", err)
	}
	_, err = fakeClient().GetWorkload(context.Background(), Ref{DaemonSet, "agent"})
	if err == nil || !strings.Contains(err.Error(), "it has no daemonsets") {
		t.Fatalf("err = %v", err)
	}
}

func TestGetAndUpdateAWorkload(t *testing.T) {
	c := fakeClient(daemonSet("agent"))
	w, err := c.GetWorkload(context.Background(), Ref{DaemonSet, "agent"})
	if err != nil {
		t.Fatal(err)
	}
	w.Meta().Annotations = map[string]string{"k": "v"}
	w.Template().Spec.Containers[0].Image = "new"
	if _, err := w.Update(context.Background(), c.Clientset); err != nil {
		t.Fatal(err)
	}
	got, err := GetWorkload(context.Background(), c.Clientset, "dev", Ref{DaemonSet, "agent"})
	if err != nil || got.Meta().Annotations["k"] != "v" || got.Template().Spec.Containers[0].Image != "new" {
		t.Fatalf("after Update: %v, %v", got, err)
	}
}

func TestRollsOut(t *testing.T) {
	sts := statefulSet("db", "")
	if err := NewWorkload(sts).RollsOut(); err != nil {
		t.Fatalf("a RollingUpdate StatefulSet: %v", err)
	}
	sts.Spec.UpdateStrategy.Type = appsv1.OnDeleteStatefulSetStrategyType
	ds := daemonSet("agent")
	ds.Spec.UpdateStrategy.Type = appsv1.OnDeleteDaemonSetStrategyType
	for _, obj := range []runtime.Object{sts, ds} {
		err := NewWorkload(obj).RollsOut()
		if err == nil || !strings.Contains(err.Error(), "OnDelete") || !strings.Contains(err.Error(), "RollingUpdate") {
			t.Errorf("%T with OnDelete: %v; want the refusal naming the fix", obj, err)
		}
	}
	if NewWorkload(ds).Replicas() != 0 || NewWorkload(deployment("web")).Replicas() != 1 {
		t.Error("Replicas: a DaemonSet's is the nodes it is scheduled on, a Deployment's defaults to 1")
	}
}
