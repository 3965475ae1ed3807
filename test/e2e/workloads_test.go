//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kindling-dev/kindling/internal/kube"
)

// TestStatefulSetSyncRestartRestore: `kindling sync -d statefulset/NAME --restart` on a StatefulSet of two
// replicas. The wrap rolls the pods one at a time from the highest ordinal, each waiting for the one
// before to be Ready, which the supervisor's hold delays until kindling synced into it: the session
// must follow the rollout pod by pod. An edit is then served by both pods, and after Ctrl-C the
// StatefulSet's template and annotations are exactly what they were; so they are after a kindling killed
// with SIGKILL and kindling restore -d sts/NAME.
func TestStatefulSetSyncRestartRestore(t *testing.T) {
	testWorkloadSession(t, kube.StatefulSet, 2)
}

// TestDaemonSetSyncRestartRestore is the same for a DaemonSet (one pod: the cluster has one node).
func TestDaemonSetSyncRestartRestore(t *testing.T) {
	testWorkloadSession(t, kube.DaemonSet, 1)
}

func testWorkloadSession(t *testing.T, kind kube.Kind, pods int) {
	a := app{name: map[kube.Kind]string{kube.StatefulSet: "db", kube.DaemonSet: "agent"}[kind], dest: "/app", port: 8080, files: map[string]string{"server.py": pythonServer},
		command: []string{"python3", "/app/server.py"}}
	ns := Namespace(t)
	ref := kube.Ref{Kind: kind, Name: a.name}
	if kind == kube.StatefulSet {
		a.apply(t, ns, "StatefulSet", map[string]any{"replicas": pods, "serviceName": a.name})
	} else {
		a.apply(t, ns, "DaemonSet", map[string]any{})
	}
	waitServed(t, ns, ref, pods, "python v1", 3*time.Minute)
	original := workloadState(t, ns, ref)
	src := a.source(t)

	start := time.Now()
	p := startKindling(t, "sync", "-d", ref.String(), "-n", ns, "--src", src, "--restart", "--debounce", "100ms")
	waitOutput(t, p, "watching")
	if workloadState(t, ns, ref) == original {
		t.Fatalf("%s was not wrapped:\n%s", ref, p.Output())
	}
	// Every pod of the wrapped template serves before the supervisor's hold (60 s) would have let it
	// start without kindling: the session synced into each as it appeared and released it.
	waitServed(t, ns, ref, pods, "python v1", 45*time.Second)
	t.Logf("%s: rolled out under the supervisor %v after kindling started", ref, time.Since(start).Round(time.Millisecond))
	edit(t, src, "server.py", "v1", "v2")
	waitServed(t, ns, ref, pods, "python v2", 3*time.Minute)
	t.Logf("%s: every pod serves the edit %v after kindling started", ref, time.Since(start).Round(time.Millisecond))

	p.Stop(t, syscall.SIGINT)
	if got := workloadState(t, ns, ref); got != original {
		t.Fatalf("%s after Ctrl-C differs from the original:\n got: %s\nwant: %s\nkindling:\n%s", ref, got, original, p.Output())
	}
	if !strings.Contains(p.Output(), "restored "+ref.String()+" to its original pod template") {
		t.Errorf("kindling did not say it restored %s:\n%s", ref, p.Output())
	}
	// The pods roll back to the image's code.
	waitServed(t, ns, ref, pods, "python v1", 3*time.Minute)

	// A kindling killed outright leaves its wrap; kindling restore, given kubectl's short TYPE, undoes it.
	p = startKindling(t, "sync", "-d", ref.String(), "-n", ns, "--src", src, "--restart")
	waitOutput(t, p, "watching")
	_ = p.cmd.Process.Kill()
	<-p.done
	if workloadState(t, ns, ref) == original {
		t.Fatal("SIGKILL restored the workload: the test cannot see kindling restore")
	}
	short := map[kube.Kind]string{kube.StatefulSet: "sts/", kube.DaemonSet: "ds/"}[kind] + a.name
	if out, err := KindlingCmd(t, "restore", "-d", short, "-n", ns).CombinedOutput(); err != nil || !strings.Contains(string(out), "restored "+ref.String()) {
		t.Fatalf("kindling restore -d %s: %v\n%s", short, err, out)
	}
	if got := workloadState(t, ns, ref); got != original {
		t.Fatalf("%s after kindling restore differs from the original:\n got: %s\nwant: %s", ref, got, original)
	}
}

// workloadState is what kindling may change in a workload and must leave as it was: its pod template and
// its annotations.
func workloadState(t *testing.T, ns string, ref kube.Ref) string {
	t.Helper()
	w, err := kube.GetWorkload(t.Context(), Clientset(), ns, ref)
	must(t, err)
	annotations := maps.Clone(w.Meta().Annotations)
	// The DaemonSet controller's own count of template changes, which a wrap and its undo advance.
	delete(annotations, "deprecated.daemonset.template.generation")
	b, err := json.Marshal(map[string]any{"template": w.Template(), "annotations": annotations})
	must(t, err)
	return string(b)
}

// waitServed polls until the workload has exactly n pods, all Ready and of its current template, each
// answering GET / on the app's port with a body containing want (through a port-forward to 127.0.0.1).
func waitServed(t *testing.T, ns string, ref kube.Ref, n int, want string, timeout time.Duration) {
	t.Helper()
	var last string
	ok := poll(t.Context(), timeout, 500*time.Millisecond, func() bool {
		live, current, err := currentPods(t.Context(), ns, ref)
		if err != nil {
			last = err.Error()
			return false
		}
		good, _, answers := serving(t.Context(), ns, live, 8080, "/", want, func(p *corev1.Pod) bool { return podReady(p) && current(p) })
		last = fmt.Sprintf("%d of %d pods of the current revision serve %q; %s; pods: %s", good, n, want, answers, describePods(live))
		return good == n && len(live) == n
	})
	if !ok {
		t.Fatalf("%s in %s did not serve %q from %d pods within %v: %s", ref, ns, want, n, timeout, last)
	}
}

// currentPods lists the workload's pods that are not being deleted, and tells those of its current
// revision, as kindling judges it.
func currentPods(c context.Context, ns string, ref kube.Ref) ([]corev1.Pod, func(*corev1.Pod) bool, error) {
	w, err := kube.GetWorkload(c, Clientset(), ns, ref)
	if err != nil {
		return nil, nil, err
	}
	sel, err := w.Selector()
	if err != nil {
		return nil, nil, err
	}
	label, revision, err := (&kube.Client{Clientset: Clientset(), Namespace: ns}).CurrentRevision(c, w)
	if err != nil {
		return nil, nil, err
	}
	list, err := Clientset().CoreV1().Pods(ns).List(c, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, nil, err
	}
	var live []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			live = append(live, p)
		}
	}
	return live, func(p *corev1.Pod) bool { return p.Labels[label] == revision }, nil
}
