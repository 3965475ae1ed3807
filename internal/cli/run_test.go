package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kindling-dev/kindling/internal/kube"
	"github.com/kindling-dev/kindling/internal/restart"
	"github.com/kindling-dev/kindling/internal/transport"
)

// fakeCluster is a cluster whose API is client-go's fake clientset, holding one Deployment with one
// running pod, and whose containers are this machine (commands run locally).
type fakeCluster struct {
	clientset *fake.Clientset
	original  corev1.PodTemplateSpec
}

func newFakeCluster() *fakeCluster {
	labels := map[string]string{"app": "web"}
	tpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "python", Command: []string{"python3", "server.py"},
			Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
		}}},
	}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "d-uid"},
		Spec:       appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tpl},
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "ns", UID: "p-uid", Labels: labels},
		Spec:       corev1.PodSpec{NodeName: "node"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "app", ContainerID: "containerd://1", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
		}}},
	}
	return &fakeCluster{clientset: fake.NewClientset(d, pod), original: *tpl.DeepCopy()}
}

func (f *fakeCluster) connect() (*cluster, error) {
	kc := &kube.Client{Config: &rest.Config{Host: "https://fake.invalid"}, Clientset: f.clientset, Namespace: "ns"}
	return &cluster{Client: kc, exec: func(_, pod, container string) transport.Execer {
		return &transport.LocalExecer{Name: "pod/" + pod + "/" + container}
	}}, nil
}

// leftChanged says how the Deployment differs from before kindling ran; "" when it is exact.
func (f *fakeCluster) leftChanged(t *testing.T) string {
	t.Helper()
	d, err := f.clientset.AppsV1().Deployments("ns").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var problems []string
	got, _ := json.Marshal(d.Spec.Template)
	want, _ := json.Marshal(f.original)
	if string(got) != string(want) {
		problems = append(problems, fmt.Sprintf("template differs (command %q, want %q)",
			d.Spec.Template.Spec.Containers[0].Command, f.original.Spec.Containers[0].Command))
	}
	for k := range d.Annotations {
		if strings.HasPrefix(k, "kindling.dev/") {
			problems = append(problems, "annotation "+k+" left")
		}
	}
	return strings.Join(problems, "; ")
}

// syncOpts are the options of `kindling sync -d web --restart --language python` into a temporary --dest.
func syncOpts(t *testing.T, once bool) syncOptions {
	src := t.TempDir()
	writeTestFile(t, src, "server.py", "print('hi')\n")
	return syncOptions{connection: connection{deployment: "web"}, src: src, dest: t.TempDir() + "/app",
		restart: true, once: once, language: "python", debounce: 50 * time.Millisecond}
}

// syncOut collects what a session prints; safe to read while it runs.
type syncOut struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncOut) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncOut) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// countCalls counts the API requests a run makes and calls at(n) on each, before it is served.
func (f *fakeCluster) countCalls(at func(n int64) error) *atomic.Int64 {
	var n atomic.Int64
	f.clientset.PrependReactor("*", "*", func(k8stesting.Action) (bool, k8sruntime.Object, error) {
		if err := at(n.Add(1)); err != nil {
			return true, nil, err
		}
		return false, nil, nil
	})
	return &n
}

// TestMain keeps the sessions' caches out of the user's: the sessions of parallel tests share one.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kindling-cli-cache-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_CACHE_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// A session stopped at any API request of its start-up, or failing at any of them, leaves the
// Deployment's template exactly as it was, whatever it had changed by then.
func TestEveryWayOutOfAStartLeavesTheTemplateExact(t *testing.T) {
	// A whole --once run counts the requests of a start-up; a watching session makes the same ones.
	f := newFakeCluster()
	calls := f.countCalls(func(int64) error { return nil })
	if err := runOne(context.Background(), &syncOut{}, syncOpts(t, true), f.connect); err == nil {
		t.Fatal("--once with a supervisor that does not run here succeeded; the test cannot tell a reload from none")
	}
	total := calls.Load()
	if d := f.leftChanged(t); d != "" {
		t.Fatalf("a --once run that failed at its reload left the Deployment changed: %s", d)
	}
	if total < 5 {
		t.Fatalf("only %d API requests in a start-up", total)
	}
	for _, how := range []string{"signal", "error"} {
		for stopAt := int64(1); stopAt <= total; stopAt++ {
			t.Run(fmt.Sprintf("%s at request %d of %d", how, stopAt, total), func(t *testing.T) {
				t.Parallel()
				f := newFakeCluster()
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				var finished atomic.Bool
				f.countCalls(func(n int64) error {
					switch {
					case n != stopAt || finished.Load():
					case how == "signal":
						cancel()
					default:
						return errors.New("injected failure")
					}
					return nil
				})
				out := &syncOut{}
				done := make(chan error, 1)
				go func() { done <- runOne(ctx, out, syncOpts(t, false), f.connect) }()
				err := waitOrInterrupt(t, done, cancel, out)
				finished.Store(true)
				if d := f.leftChanged(t); d != "" {
					t.Fatalf("left the Deployment changed: %s\nerror: %v\noutput:\n%s", d, err, out)
				}
			})
		}
	}
}

func writeTestFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitOrInterrupt waits for a session to end, interrupting it once it watches (it got through its
// start-up).
func waitOrInterrupt(t *testing.T, done <-chan error, cancel context.CancelFunc, out *syncOut) error {
	t.Helper()
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-tick.C:
			if strings.Contains(out.String(), "watching for changes") {
				cancel()
			}
		case <-deadline:
			cancel()
			select {
			case err := <-done:
				return err
			case <-time.After(20 * time.Second):
				t.Fatalf("the session did not stop within 20s of its context ending:\n%s", out)
			}
		}
	}
}

// A second session on a Deployment that a live kindling holds refuses at once and changes nothing;
// so does a plain sync, whose repair would otherwise undo the live session's wrap.
func TestASecondSessionRefusesALiveHoldersDeployment(t *testing.T) {
	for _, restartToo := range []bool{true, false} {
		f := newFakeCluster()
		d, _ := f.clientset.AppsV1().Deployments("ns").Get(context.Background(), "web", metav1.GetOptions{})
		d.Annotations = map[string]string{
			restart.AnnotationHolder:    "laptop pid 7 #abcd",
			restart.AnnotationHeartbeat: time.Now().Add(-2 * time.Second).UTC().Format(time.RFC3339),
		}
		if _, err := f.clientset.AppsV1().Deployments("ns").Update(context.Background(), d, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		before, _ := json.Marshal(d)
		o := syncOpts(t, true)
		o.restart = restartToo
		err := runOne(context.Background(), &syncOut{}, o, f.connect)
		var held *restart.HeldError
		if !errors.As(err, &held) || !strings.Contains(err.Error(), "held by another kindling (laptop pid 7") {
			t.Fatalf("restart=%v: err = %v, want the holder named", restartToo, err)
		}
		after, _ := f.clientset.AppsV1().Deployments("ns").Get(context.Background(), "web", metav1.GetOptions{})
		if got, _ := json.Marshal(after); string(got) != string(before) {
			t.Errorf("restart=%v: the refused session changed the Deployment:\n%s\n%s", restartToo, got, before)
		}
	}
}

// A hold whose update landed though its answer did not (a signal during it) is taken back: the
// Deployment is left without kindling's annotations.
func TestAHoldWhoseAnswerWasLostIsTakenBack(t *testing.T) {
	f := newFakeCluster()
	first := true
	f.clientset.PrependReactor("update", "deployments", func(a k8stesting.Action) (bool, k8sruntime.Object, error) {
		if !first {
			return false, nil, nil
		}
		first = false
		obj := a.(k8stesting.UpdateAction).GetObject()
		if err := f.clientset.Tracker().Update(appsv1.SchemeGroupVersion.WithResource("deployments"), obj, "ns"); err != nil {
			t.Fatal(err)
		}
		return true, nil, context.Canceled
	})
	err := runOne(context.Background(), &syncOut{}, syncOpts(t, true), f.connect)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want the lost answer's", err)
	}
	if d := f.leftChanged(t); d != "" {
		t.Fatalf("left the Deployment changed: %s", d)
	}
}

// runOne runs one entry as kindling sync does, with human output to out.
func runOne(ctx context.Context, out io.Writer, o syncOptions, connect func() (*cluster, error)) error {
	return runSync(ctx, newReporter(out, out, runOptions{output: "text"}), []syncOptions{o}, 0, connect)
}
